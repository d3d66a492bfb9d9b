// A logging subscriber: one more consumer of the same events, swappable like the others.
import type { Level, Logger } from 'pino';
import { subscribe, type Bus, type HandlerMap } from '../events/bus.js';
import type { EventName } from '../events/catalog.js';

/** What gets logged, at which level. Events missing here are left to the metrics. */
const LOGGED: readonly (readonly [EventName, Level, string])[] = [
  ['connectionOpened', 'debug', 'connection opened'],
  ['connectionClosed', 'debug', 'connection closed'],
  ['messageFailed', 'debug', 'frame failed'],
  ['llmFailed', 'warn', 'LLM attempt failed'],
  ['sessionCreated', 'debug', 'session created'],
  ['sessionEnded', 'debug', 'session ended'],
  ['adminTookOver', 'info', 'admin took a session over'],
  ['adminHandedBack', 'info', 'admin handed a session back'],
];

export function attachLogger(bus: Bus, log: Logger): () => void {
  const detachErrors = bus.onSubscriberError((subscriber, event, error) => {
    log.error({ subscriber, event, err: error }, 'bus subscriber failed');
  });
  // Decided once, at attach time: events below the logger's level are not subscribed to at all,
  // so a per-frame event at `debug` costs nothing when the level is `info`.
  const handlers: Partial<Record<EventName, (payload: object) => void>> = {};
  for (const [event, level, message] of LOGGED) {
    if (!log.isLevelEnabled(level)) continue;
    handlers[event] = function logEvent(payload: object) {
      log[level](payload, message);
    };
  }
  const detach = subscribe(bus, 'logger', handlers as HandlerMap);
  return function detachLogger() {
    detach();
    detachErrors();
  };
}
