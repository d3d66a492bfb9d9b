// The one place an answered HTTP request becomes an event, for both transports: each server
// reports (route pattern, method, status, start time) from its single dispatch path.
import { performance } from 'node:perf_hooks';
import type { Bus } from '../events/bus.js';
import { HTTP_METHODS, type HttpMethod } from '../events/catalog.js';

/** Told once per request answered; `route` is the matched pattern or `unmatched`. */
export type HttpObserver = (route: string, method: string, status: number, startedAt: number) => void;

const KNOWN: ReadonlySet<string> = new Set(HTTP_METHODS);

/** Any method outside the closed set is `other`: a client cannot mint a label value. */
export const methodLabel = (method: string): HttpMethod => (KNOWN.has(method) && method !== 'other' ? (method as HttpMethod) : 'other');

export function httpObserver(bus: Bus, now: () => number = () => performance.now()): HttpObserver {
  return function observeHttp(route, method, status, startedAt) {
    if (!bus.has('httpResponded')) return;
    bus.emit('httpResponded', { route, method: methodLabel(method), status, seconds: (now() - startedAt) / 1000 });
  };
}
