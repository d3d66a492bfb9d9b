// Every catalog event on node:diagnostics_channel, as `chatbox:<eventName>`, so an APM agent can
// observe chatbox without importing it (undici's pattern: every channel is defined once, here;
// code elsewhere imports this object, never a channel name string).
import diagnosticsChannel, { type Channel } from 'node:diagnostics_channel';
import { EVENT_NAMES, type ChatEvents, type EventName } from '../events/catalog.js';
import { subscribe, type Bus, type HandlerMap } from '../events/bus.js';

/** The channel name of one event. */
export const channelName = (event: EventName): `chatbox:${EventName}` => `chatbox:${event}`;

/**
 * One channel per catalog event. The message published on `chatbox:<eventName>` is the event's
 * payload as the bus carries it (`ChatEvents[eventName]`): flat, readonly, plain data. Subscribers
 * run synchronously inside the emitter, so they must be fast, must not throw (a throw is reported
 * by Node as an uncaught exception on the next tick) and must not keep or mutate the payload.
 */
export const channels: { readonly [K in EventName]: Channel } = Object.freeze(
  Object.fromEntries(EVENT_NAMES.map((name) => [name, diagnosticsChannel.channel(channelName(name))])) as Record<EventName, Channel>,
);

/**
 * Bridges `bus` to the channels: each event is published on its channel when, and only when, the
 * channel has a subscriber; otherwise the cost is one `hasSubscribers` check. Returns an
 * idempotent detach.
 */
export function attachDiagnostics(bus: Bus): () => void {
  const handlers: Partial<Record<EventName, (payload: ChatEvents[EventName]) => void>> = {};
  for (const name of EVENT_NAMES) {
    const channel = channels[name];
    handlers[name] = function publishToChannel(payload) {
      if (channel.hasSubscribers) channel.publish(payload);
    };
  }
  return subscribe(bus, 'diagnostics', handlers as HandlerMap);
}
