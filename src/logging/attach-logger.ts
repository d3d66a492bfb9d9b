// A logging subscriber: one more consumer of the same events, swappable like the others.
import type { Logger } from 'pino';
import { subscribe, type Bus } from '../events/bus.js';
import type { ChatEvents } from '../events/catalog.js';

export function attachLogger(bus: Bus, log: Logger): () => void {
  const detachErrors = bus.onSubscriberError((subscriber, event, error) => {
    log.error({ subscriber, event, err: error }, 'bus subscriber failed');
  });
  const detach = subscribe(bus, 'logger', {
    connectionOpened: function logOpened(e: ChatEvents['connectionOpened']) {
      log.debug(e, 'connection opened');
    },
    connectionClosed: function logClosed(e: ChatEvents['connectionClosed']) {
      log.debug(e, 'connection closed');
    },
    messageFailed: function logFailed(e: ChatEvents['messageFailed']) {
      log.debug(e, 'frame failed');
    },
    llmFailed: function logLlmFailed(e: ChatEvents['llmFailed']) {
      log.warn(e, 'LLM attempt failed');
    },
    sessionCreated: function logCreated(e: ChatEvents['sessionCreated']) {
      log.debug(e, 'session created');
    },
    sessionEnded: function logEnded(e: ChatEvents['sessionEnded']) {
      log.debug(e, 'session ended');
    },
    adminTookOver: function logTakeover(e: ChatEvents['adminTookOver']) {
      log.info(e, 'admin took a session over');
    },
    adminHandedBack: function logHandback(e: ChatEvents['adminHandedBack']) {
      log.info(e, 'admin handed a session back');
    },
  });
  return function detachLogger() {
    detach();
    detachErrors();
  };
}
