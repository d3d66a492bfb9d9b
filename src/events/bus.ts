// The typed, fault-isolating event bus. The only file that imports mitt.
import mittModule from 'mitt';
import type { Emitter, Handler } from 'mitt';
import type { ChatEvents, EventName } from './catalog.js';

// Under "module": "NodeNext" mitt's CommonJS-style default export is typed as a namespace;
// the value at runtime is the factory.
const mitt = mittModule as unknown as <E extends Record<string, unknown>>() => Emitter<E>;

/** A handler may be sync or async; a rejected promise is caught like a throw. */
export type EventHandler<K extends EventName> = (payload: ChatEvents[K]) => void | Promise<unknown>;

/** Told about every subscriber failure (for logging); must not throw itself. */
export type SubscriberErrorListener = (subscriber: string, event: EventName, error: unknown) => void;

export interface Bus {
  /**
   * Subscribes `handler` to `type` on behalf of `subscriber` (the name counted in
   * chatbox_bus_subscriber_errors_total when the handler throws or rejects).
   */
  on<K extends EventName>(type: K, handler: EventHandler<K>, subscriber: string): void;
  off<K extends EventName>(type: K, handler: EventHandler<K>): void;
  /** Delivers to every handler; never throws, whatever the handlers do. */
  emit<K extends EventName>(type: K, payload: ChatEvents[K]): void;
  /** True when someone listens: producers use it to skip building costly payloads. */
  has(type: EventName): boolean;
  /** Errors per subscriber name since the bus was created (read at scrape time). */
  subscriberErrors(): ReadonlyMap<string, number>;
  /** Subscriber names that ever attached, so their error series can start at 0. */
  subscribers(): ReadonlySet<string>;
  onSubscriberError(listener: SubscriberErrorListener): () => void;
}

export function createBus(): Bus {
  const emitter = mitt<ChatEvents>();
  // handler -> its isolating wrapper, per event type, so off() removes exactly what on() added.
  const wrappers = new Map<EventName, Map<EventHandler<never>, Handler<never>>>();
  const errors = new Map<string, number>();
  const names = new Set<string>();
  const errorListeners = new Set<SubscriberErrorListener>();

  function fail(subscriber: string, type: EventName, error: unknown): void {
    errors.set(subscriber, (errors.get(subscriber) ?? 0) + 1);
    for (const listener of errorListeners) {
      try {
        listener(subscriber, type, error);
      } catch {
        // A broken error listener must not turn into a failure of the emitter.
      }
    }
  }

  function on<K extends EventName>(type: K, handler: EventHandler<K>, subscriber: string): void {
    let byHandler = wrappers.get(type);
    if (byHandler === undefined) {
      byHandler = new Map();
      wrappers.set(type, byHandler);
    }
    if (byHandler.has(handler as EventHandler<never>)) return;
    names.add(subscriber);
    const onRejected = (error: unknown): void => fail(subscriber, type, error);
    const isolated = (payload: ChatEvents[K]): void => {
      try {
        const result = handler(payload);
        // Only async handlers pay for the promise check.
        if (result !== undefined && typeof (result as Promise<unknown>).then === 'function') {
          (result as Promise<unknown>).then(undefined, onRejected);
        }
      } catch (error) {
        fail(subscriber, type, error);
      }
    };
    byHandler.set(handler as EventHandler<never>, isolated as Handler<never>);
    emitter.on(type, isolated as Handler<ChatEvents[K]>);
    refresh(type);
  }

  function off<K extends EventName>(type: K, handler: EventHandler<K>): void {
    const byHandler = wrappers.get(type);
    const isolated = byHandler?.get(handler as EventHandler<never>);
    if (byHandler === undefined || isolated === undefined) return;
    byHandler.delete(handler as EventHandler<never>);
    emitter.off(type, isolated as Handler<ChatEvents[K]>);
    refresh(type);
  }

  // mitt keeps the registrations; emit walks a snapshot taken at on()/off() instead of calling
  // mitt's emit, which copies the list and allocates a closure and an array on every event
  // (measured: ~60-100 ns and 224 B per event; bench/events/emit.bench.ts). The snapshot gives
  // mitt's own semantics: an emit sees the handlers present when it started.
  const snapshots = new Map<EventName, readonly Handler<never>[]>();
  function refresh(type: EventName): void {
    const list = emitter.all.get(type);
    if (list === undefined || list.length === 0) snapshots.delete(type);
    else snapshots.set(type, list.slice() as Handler<never>[]);
  }

  function has(type: EventName): boolean {
    return snapshots.has(type);
  }

  function emit<K extends EventName>(type: K, payload: ChatEvents[K]): void {
    const list = snapshots.get(type);
    if (list === undefined) return;
    // Every entry is an isolating wrapper: none of them throws.
    for (let i = 0; i < list.length; i++) (list[i] as Handler<ChatEvents[K]>)(payload);
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

/** A set of handlers, one per event, as a subscriber declares them. */
export type HandlerMap = { readonly [K in EventName]?: EventHandler<K> };

/**
 * Attaches every handler of `handlers` under one subscriber name and returns an idempotent
 * detach that removes exactly those handlers.
 */
export function subscribe(bus: Bus, subscriber: string, handlers: HandlerMap): () => void {
  const entries = Object.entries(handlers) as [EventName, EventHandler<EventName>][];
  for (const [type, handler] of entries) bus.on(type, handler, subscriber);
  let attached = true;
  return function detach(): void {
    if (!attached) return;
    attached = false;
    for (const [type, handler] of entries) bus.off(type, handler);
  };
}
