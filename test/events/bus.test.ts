import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createBus, subscribe } from '../../src/events/bus.js';
import { EVENT_NAMES } from '../../src/events/catalog.js';
import { attachRecorder } from '../../src/events/recorder.js';
import { anyEvent, eventArbitraries } from '../support/arbitraries.js';

describe('createBus', () => {
  it('delivers typed payloads to every handler of the event, in attach order', () => {
    const bus = createBus();
    const seen: string[] = [];
    bus.on('messageFailed', (e) => void seen.push(`a:${e.code}`), 'a');
    bus.on('messageFailed', (e) => void seen.push(`b:${e.code}`), 'b');
    bus.on('messageSent', () => void seen.push('wrong'), 'c');
    bus.emit('messageFailed', { code: 'INVALID_JSON' });
    expect(seen).toEqual(['a:INVALID_JSON', 'b:INVALID_JSON']);
  });

  it('off removes exactly the handler given, and has() follows', () => {
    const bus = createBus();
    const calls: string[] = [];
    const h1 = (): void => void calls.push('h1');
    const h2 = (): void => void calls.push('h2');
    expect(bus.has('messageSent')).toBe(false);
    bus.on('messageSent', h1, 'one');
    bus.on('messageSent', h2, 'two');
    bus.off('messageSent', h1);
    bus.emit('messageSent', { bytes: 1 });
    expect(calls).toEqual(['h2']);
    bus.off('messageSent', h2);
    expect(bus.has('messageSent')).toBe(false);
  });

  it('a throwing subscriber is counted and the others and the emitter are unaffected', () => {
    const bus = createBus();
    const reported: string[] = [];
    bus.onSubscriberError((subscriber, event) => reported.push(`${subscriber}/${event}`));
    let after = 0;
    bus.on('messageReceived', () => {
      throw new Error('boom');
    }, 'broken');
    bus.on('messageReceived', () => void after++, 'healthy');
    expect(() => bus.emit('messageReceived', { bytes: 3 })).not.toThrow();
    bus.emit('messageReceived', { bytes: 3 });
    expect(after).toBe(2);
    expect(bus.subscriberErrors().get('broken')).toBe(2);
    expect(bus.subscriberErrors().get('healthy')).toBeUndefined();
    expect(reported).toEqual(['broken/messageReceived', 'broken/messageReceived']);
  });

  it('a rejecting async subscriber is counted without an unhandled rejection', async () => {
    const bus = createBus();
    bus.on('sessionCreated', async () => {
      throw new Error('async boom');
    }, 'async');
    bus.emit('sessionCreated', { open: 1 });
    await new Promise((r) => setImmediate(r));
    expect(bus.subscriberErrors().get('async')).toBe(1);
  });

  it('two buses share nothing', () => {
    const a = createBus();
    const b = createBus();
    const rec = attachRecorder(a);
    b.emit('adminTookOver', { via: 'rest' });
    expect(rec.events).toHaveLength(0);
    a.emit('adminTookOver', { via: 'socket' });
    expect(rec.of('adminTookOver')).toEqual([{ via: 'socket' }]);
  });

  it('subscribe() returns an idempotent detach that removes exactly its handlers', () => {
    const bus = createBus();
    const other = attachRecorder(bus);
    let mine = 0;
    const detach = subscribe(bus, 'mine', { messageSent: () => void mine++, messageReceived: () => void mine++ });
    bus.emit('messageSent', { bytes: 1 });
    detach();
    detach();
    bus.emit('messageSent', { bytes: 1 });
    bus.emit('messageReceived', { bytes: 1 });
    expect(mine).toBe(1);
    expect(other.count('messageSent')).toBe(2);
    expect(other.count('messageReceived')).toBe(1);
  });

  it('every catalog event has an arbitrary (the map is typed, this checks the runtime list too)', () => {
    expect(Object.keys(eventArbitraries).sort()).toEqual([...EVENT_NAMES].sort());
  });

  it('property: random subscribers that throw or reject never stop delivery to the others, and are counted', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom('ok', 'throws', 'rejects'), { minLength: 1, maxLength: 8 }),
        fc.array(anyEvent, { minLength: 1, maxLength: 30 }),
        async (kinds, events) => {
          const bus = createBus();
          const received = kinds.map(() => 0);
          kinds.forEach((kind, i) => {
            for (const type of EVENT_NAMES) {
              bus.on(
                type,
                () => {
                  received[i] = (received[i] ?? 0) + 1;
                  if (kind === 'throws') throw new Error('x');
                  if (kind === 'rejects') return Promise.reject(new Error('y'));
                  return undefined;
                },
                `s${i}`,
              );
            }
          });
          for (const e of events) bus.emit(e.type, e.payload as never);
          await new Promise((r) => setImmediate(r));
          kinds.forEach((kind, i) => {
            expect(received[i]).toBe(events.length);
            expect(bus.subscriberErrors().get(`s${i}`) ?? 0).toBe(kind === 'ok' ? 0 : events.length);
          });
        },
      ),
      { numRuns: 100 },
    );
  });
});
