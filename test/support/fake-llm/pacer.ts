// The fake's clock: the timed waits of one response (headers delay, time to first token, gaps
// between chunks). Apart because its allocations are the load harness's concern, not the wire's.
import type { ServerResponse } from 'node:http';

/**
 * A response's timed waits: each resolves after `ms`, or early (false) when the response closed
 * or the server is closing. One 'close' listener serves every wait of the response: a listener,
 * two Set entries and two closures per chunk made the pacing one of the load harness's largest
 * allocators, and the harness's GC pauses land in every latency it measures.
 */
export function pacer(res: ServerResponse, closing: () => boolean): (ms: number) => Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  let resume: ((ok: boolean) => void) | undefined;
  let closed = false;
  const settle = (ok: boolean): void => {
    const r = resume;
    resume = undefined;
    r?.(ok);
  };
  const fire = (): void => {
    timer = undefined;
    settle(true);
  };
  // Also how close() ends them: closeAllConnections() closes every response.
  const stop = (): void => {
    closed = true;
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
    settle(false);
  };
  res.once('close', stop);
  return (ms) => {
    if (ms <= 0) return Promise.resolve(!res.destroyed);
    if (closed || closing()) return Promise.resolve(false);
    return new Promise((resolve) => {
      resume = resolve;
      timer = setTimeout(fire, ms);
    });
  };
}
