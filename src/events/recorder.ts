// A subscriber that keeps every event it sees, in order: tests attach it instead of (or beside)
// the metrics subscriber and assert on events directly.
import { EVENT_NAMES, type ChatEvents, type EventName } from './catalog.js';
import { subscribe, type Bus, type HandlerMap } from './bus.js';

export type RecordedEvent = { [K in EventName]: { readonly type: K; readonly payload: ChatEvents[K] } }[EventName];

export interface Recorder {
  readonly events: readonly RecordedEvent[];
  /** Payloads of one event type, in order. */
  of<K extends EventName>(type: K): ChatEvents[K][];
  count(type: EventName): number;
  clear(): void;
  detach(): void;
}

export function attachRecorder(bus: Bus, options: { readonly only?: readonly EventName[] } = {}): Recorder {
  const events: RecordedEvent[] = [];
  const handlers: Record<string, (payload: unknown) => void> = {};
  for (const type of options.only ?? EVENT_NAMES) {
    handlers[type] = function record(payload: unknown) {
      events.push({ type, payload } as RecordedEvent);
    };
  }
  const detach = subscribe(bus, 'recorder', handlers as HandlerMap);
  return {
    events,
    of<K extends EventName>(type: K) {
      return events.filter((e) => e.type === type).map((e) => e.payload as ChatEvents[K]);
    },
    count: (type) => events.reduce((n, e) => (e.type === type ? n + 1 : n), 0),
    clear: () => {
      events.length = 0;
    },
    detach,
  };
}
