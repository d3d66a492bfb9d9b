// Session rows reach the consoles of every replica: the relay tells its own hub at once and the
// other replicas through the cluster's `console` topic (in-process hub here; Redis in
// test/cluster/replicas.e2e.test.ts). One process alone publishes nothing.
import { afterEach, describe, expect, it } from 'vitest';
import { createLocalHub, createSoloCluster } from '../../src/cluster/local.js';
import { topics, type Cluster } from '../../src/cluster/types.js';
import { relayConsoleRows, type ConsoleRelay } from '../../src/console/console-relay.js';
import { eventually } from '../cluster/support.js';

const relays: ConsoleRelay[] = [];
afterEach(() => {
  for (const r of relays.splice(0)) r.close();
});

function relay(cluster: Cluster, seen: string[], maxIds?: number): ConsoleRelay {
  const r = relayConsoleRows({ cluster, hub: { sessionChanged: (id) => seen.push(id) }, coalesceMs: 5, ...(maxIds === undefined ? {} : { maxIds }) });
  relays.push(r);
  return r;
}

describe('console relay', () => {
  it('pushes a change to this replica\'s hub and, coalesced, to the other replicas\' hubs', async () => {
    const hub = createLocalHub();
    const [a, b, c] = ['a', 'b', 'c'].map((id) => hub.node(id)) as [Cluster, Cluster, Cluster];
    for (const n of [a, b, c]) await n.start();
    const published: unknown[] = [];
    const seenA: string[] = [];
    const seenB: string[] = [];
    const seenC: string[] = [];
    const ra = relay(a, seenA);
    relay(b, seenB);
    relay(c, seenC);
    // A spy on a fourth node sees how many messages the writes of one turn become.
    const spy = hub.node('spy');
    await spy.start();
    spy.onTopic(topics.console, (_t, p) => published.push(p));
    await spy.subscribe(topics.console);

    ra.changed('s1');
    ra.changed('s2');
    ra.changed('s1');
    expect(seenA).toEqual(['s1', 's2', 's1']);
    await eventually(() => {
      expect(seenB).toEqual(['s1', 's2']);
      expect(seenC).toEqual(['s1', 's2']);
    });
    expect(published).toEqual([{ ids: ['s1', 's2'] }]);
  });

  it('splits a large batch, ignores foreign payloads, and sends what is pending when it closes', async () => {
    const hub = createLocalHub();
    const a = hub.node('a');
    const b = hub.node('b');
    await a.start();
    await b.start();
    const seenB: string[] = [];
    const ra = relay(a, [], 2);
    relay(b, seenB);
    for (const id of ['s1', 's2', 's3']) ra.changed(id);
    await eventually(() => expect(seenB).toEqual(['s1', 's2', 's3']));
    a.publish(topics.console, { ids: 'nope' });
    a.publish(topics.console, null);
    a.publish(topics.console, { ids: [7, 's4'] });
    await eventually(() => expect(seenB).toEqual(['s1', 's2', 's3', 's4']));
    ra.changed('s5');
    ra.close();
    expect(seenB).toEqual(['s1', 's2', 's3', 's4', 's5']);
  });

  it('alone, tells only its own hub', async () => {
    const solo = createSoloCluster('one');
    await solo.start();
    let published = 0;
    const original = solo.publish.bind(solo);
    solo.publish = (topic, payload) => {
      published++;
      return original(topic, payload);
    };
    const seen: string[] = [];
    const r = relay(solo, seen);
    r.changed('s1');
    await new Promise((resolve) => setTimeout(resolve, 30));
    r.close();
    expect(seen).toEqual(['s1']);
    expect(published).toBe(0);
  });
});
