// What one load run's users, admins and idle sockets share: its settings, its tallies (read by the
// reconciliation at the end) and the sessions an admin may take over. Apart so that each kind of
// simulated client lives in its own module and the harness only wires them together.
import { SignJWT } from 'jose';
import type { LoadSocket, Tally } from './client.js';
import type { LoadOptions } from './harness.js';
import type { Turn } from './latency.js';

export const SECRET = 'load-secret-load-secret-load-secret-0123456789';
export const MAX_MESSAGE_BYTES = 8192;
export const REPLY_TIMEOUT_MS = 30_000;

export interface Counts {
  userMessages: number;
  adminMessages: number;
  repliesCompleted: number;
  repliesCancelled: number;
  llmUnavailable: number;
  noReplyTakenOver: number;
  hung: number;
  takeovers: number;
  handbacks: number;
  reconnects: number;
  abandoned: number;
  secondDevices: number;
  /** Sockets the server closed without being asked (close code -> count). */
  unexpectedCloses: Map<number, number>;
  malformed: number;
  oversize: number;
  firstChunkMs: number[];
  /** Content -> when the client sent it and got the first chunk, matched with the provider's timing later. */
  pending: Map<string, Turn>;
  /** Idle sockets that stayed open for the whole run / that the server closed. */
  idleHeld: number;
  idleLost: number;
  /** Opening handshakes that failed (timed out or refused) and were tried again. */
  connectFailures: number;
  /** Every user message sent, and those whose whole reply the client saw. */
  sentContents: string[];
  answeredContents: Set<string>;
}

/** One run's shared state: every loop reads and updates the same objects. */
export interface RunState {
  readonly options: LoadOptions;
  readonly log: (line: string) => void;
  readonly random: () => number;
  readonly tally: Tally;
  readonly counts: Counts;
  readonly mismatches: string[];
  /** This run's prefix of user ids (a PostgreSQL database keeps earlier runs' sessions). */
  readonly run: string;
  /** Date.now() at which the clients stop. */
  readonly deadline: number;
  /** Sessions with at least one stored message whose user is connected, free for an admin. */
  readonly available: Set<string>;
  readonly takenOver: Set<string>;
  readonly sessionsUsed: Set<string>;
  /** Opens a socket, trying again as a browser would (counted in `counts.connectFailures`). */
  readonly connect: (token: string, sessionId?: string) => Promise<LoadSocket>;
}

export function newCounts(): Counts {
  return {
    userMessages: 0,
    adminMessages: 0,
    repliesCompleted: 0,
    repliesCancelled: 0,
    llmUnavailable: 0,
    noReplyTakenOver: 0,
    unexpectedCloses: new Map(),
    hung: 0,
    takeovers: 0,
    handbacks: 0,
    reconnects: 0,
    abandoned: 0,
    secondDevices: 0,
    malformed: 0,
    oversize: 0,
    firstChunkMs: [],
    pending: new Map(),
    idleHeld: 0,
    idleLost: 0,
    sentContents: [],
    answeredContents: new Set(),
    connectFailures: 0,
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, Math.max(0, ms)));

export async function mint(userId: string, admin: boolean): Promise<string> {
  return new SignJWT({ user_id: userId, name: userId, roles: admin ? ['user', 'admin'] : ['user'] })
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('2h')
    .sign(new TextEncoder().encode(SECRET));
}
