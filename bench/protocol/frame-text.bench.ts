// Question: what does serialising one of a reply's frames cost, JSON.stringify against frameText
// (src/protocol/frame-text.ts, the fan-out's serialiser)? Every frame a reply streams is
// serialised once per fan-out, so at 8 chunks a reply this is paid ~10 times per user message.
//
//   node --import tsx bench/protocol/frame-text.bench.ts
//
// Interleaved rounds, median of per-round ratios (bench/events/measure.ts): the ratio survives
// a busy machine, the absolute figures less so.
import { bytesPerOp, interleaved, nsPerOp, pairedRatio } from '../events/measure.js';
import { formatTable, machine, type Row } from '../events/report.js';
import { frameText } from '../../src/protocol/frame-text.js';
import { sessionFrame } from '../../src/router/server-frames.js';

const SESSION = '659e3c64-2579-4c38-8a6b-8eaab62b92e1';
const STREAMING = Object.freeze({ streaming: 'true', done: 'false' });
const frames = {
  loading: sessionFrame(SESSION, { type: 'loading', sender: 'ai', model_id: 'gpt-4o-mini' }),
  chunk: sessionFrame(SESSION, { type: 'ai_response', sender: 'ai', content: ' the quick brown fox', metadata: STREAMING }),
  'chunk, non-ASCII': sessionFrame(SESSION, { type: 'ai_response', sender: 'ai', content: ' très « vite »', metadata: STREAMING }),
  // As the router sends it: one frozen metadata object per model.
  done: sessionFrame(SESSION, { type: 'ai_response', sender: 'ai', content: '', metadata: Object.freeze({ streaming: 'true', done: 'true', model_id: 'gpt-4o-mini' }) }),
} as const;
// Two sessions' chunks in turn, a millisecond apart: frameText's one-entry caches (session id,
// timestamp) miss on every call, as when many sessions stream at once.
const other = { ...frames.chunk, session_id: 'another-session-id-0123456789abcdef', timestamp: '2026-12-03T10:00:00.001Z' };
const missing = [frames.chunk, Object.setPrototypeOf(other, Object.getPrototypeOf(frames.chunk)) as typeof frames.chunk];
let turn = 0;
const next = (): (typeof missing)[number] => missing[turn++ & 1] as (typeof missing)[number];

const rows: Row[] = [];
for (const [name, frame] of Object.entries(frames)) {
  if (frameText(frame) !== JSON.stringify(frame)) throw new Error(`frameText differs from JSON.stringify for ${name}`);
  const r = await interleaved({ stringify: () => JSON.stringify(frame), frameText: () => frameText(frame) }, { rounds: 21, perRound: 20_000 });
  rows.push([
    name,
    `${nsPerOp(r, 'stringify').toFixed(0)} ns`,
    `${nsPerOp(r, 'frameText').toFixed(0)} ns`,
    `${pairedRatio(r, 'stringify', 'frameText').toFixed(2)} x`,
    `${bytesPerOp(() => JSON.stringify(frame)).toFixed(0)} / ${bytesPerOp(() => frameText(frame)).toFixed(0)} B`,
  ]);
}
{
  const r = await interleaved({ stringify: () => JSON.stringify(next()), frameText: () => frameText(next()) }, { rounds: 21, perRound: 20_000 });
  rows.push([
    'chunk, two sessions in turn',
    `${nsPerOp(r, 'stringify').toFixed(0)} ns`,
    `${nsPerOp(r, 'frameText').toFixed(0)} ns`,
    `${pairedRatio(r, 'stringify', 'frameText').toFixed(2)} x`,
    `${bytesPerOp(() => JSON.stringify(next())).toFixed(0)} / ${bytesPerOp(() => frameText(next())).toFixed(0)} B`,
  ]);
}
console.log(machine());
console.log(formatTable(['frame', 'JSON.stringify', 'frameText', 'stringify / frameText', 'heap per call'], rows));
