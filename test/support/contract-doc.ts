// The metrics contract as the team wrote it (../shared/metrics-contract.md), parsed, so tests
// check the code against the document and not against the code's own copy of it.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface ContractRow {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly labels: readonly string[];
  readonly meaning: string;
}

export const CONTRACT_PATH = resolve(import.meta.dirname, '../../../shared/metrics-contract.md');

export function readContract(): { rows: ContractRow[]; text: string } {
  if (!existsSync(CONTRACT_PATH)) throw new Error(`metrics contract not found at ${CONTRACT_PATH} (shared/ must sit beside the checkout)`);
  const text = readFileSync(CONTRACT_PATH, 'utf8');
  const rows: ContractRow[] = [];
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    // | `name` | type | labels | meaning |
    const name = /^`(chatbox_[a-z_]+)`$/.exec(cells[1] ?? '')?.[1];
    const type = cells[2];
    if (name === undefined || (type !== 'counter' && type !== 'gauge' && type !== 'histogram')) continue;
    const labelCell = (cells[3] ?? '').replace(/\([^)]*\)/g, '');
    const labels = [...labelCell.matchAll(/`([a-z_]+)`/g)].map((m) => m[1] as string);
    rows.push({ name, type, labels, meaning: cells[4] ?? '' });
  }
  return { rows, text };
}

/** Bucket lists written in the contract: the LLM latency list and the one in a row's meaning. */
export function bucketsIn(s: string): number[] {
  const m = /buckets[^:]*?:?\s*((?:\d+(?:\.\d+)?,\s*)+\d+(?:\.\d+)?)/.exec(s);
  return m === null ? [] : (m[1] as string).split(',').map((x) => Number(x.trim()));
}
