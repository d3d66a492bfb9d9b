// A what-if, for the emit benchmark only: the same Bus interface as src/events/bus.ts, but with
// copy-on-write handler arrays and a plain indexed loop instead of delegating to mitt's emit.
//
// mitt's emit runs `list.slice().map(function (h) { h(evt) })` on every call: it allocates a copy
// of the handler list, a closure and map()'s result array (~110 B) per event. Copy-on-write moves
// that copy to on()/off() (rare), so emit allocates nothing and iterates a snapshot that a handler
// calling on()/off() mid-emit cannot disturb. The benchmark runs the real metrics subscriber on
// this bus next to the real bus, to size the gain before anyone changes src/.
import type { Bus, EventHandler, SubscriberErrorListener } from '../../src/events/bus.js';
import type { ChatEvents, EventName } from '../../src/events/catalog.js';

type Isolated = (payload: never) => void;

interface Entry {
  readonly handler: EventHandler<never>;
  readonly isolated: Isolated;
}

const EMPTY: readonly Entry[] = [];

export function createCopyOnWriteBus(): Bus {
  // Never mutated in place: on()/off() install a new array, emit() iterates whatever it read.
  const lists = new Map<EventName, readonly Entry[]>();
  const errors = new Map<string, number>();
  const names = new Set<string>();
  const errorListeners = new Set<SubscriberErrorListener>();

  function fail(subscriber: string, type: EventName, error: unknown): void {
    errors.set(subscriber, (errors.get(subscriber) ?? 0) + 1);
    for (const listener of errorListeners) {
      try {
        listener(subscriber, type, error);
      } catch {
        // A broken error listener must not become the emitter's failure.
      }
    }
  }

  function on<K extends EventName>(type: K, handler: EventHandler<K>, subscriber: string): void {
    const list = lists.get(type) ?? EMPTY;
    if (list.some((e) => e.handler === handler)) return;
    names.add(subscriber);
    const onRejected = (error: unknown): void => fail(subscriber, type, error);
    const isolated = (payload: ChatEvents[K]): void => {
      try {
        const result = handler(payload);
        if (result !== undefined && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, onRejected);
        }
      } catch (error) {
        fail(subscriber, type, error);
      }
    };
    lists.set(type, [...list, { handler: handler as EventHandler<never>, isolated: isolated as Isolated }]);
  }

  function off<K extends EventName>(type: K, handler: EventHandler<K>): void {
    const list = lists.get(type);
    if (list === undefined) return;
    const next = list.filter((e) => e.handler !== handler);
    if (next.length === list.length) return;
    if (next.length === 0) lists.delete(type);
    else lists.set(type, next);
  }

  function has(type: EventName): boolean {
    return lists.has(type);
  }

  function emit<K extends EventName>(type: K, payload: ChatEvents[K]): void {
    const list = lists.get(type);
    if (list === undefined) return;
    for (let i = 0; i < list.length; i++) (list[i] as Entry).isolated(payload as never);
  }

  return {
    on,
    off,
    emit,
    has,
    subscriberErrors: () => errors,
    subscribers: () => names,
    onSubscriberError(listener) {
      errorListeners.add(listener);
      return () => {
        errorListeners.delete(listener);
      };
    },
  };
}
