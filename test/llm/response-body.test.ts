// The provider response body read from undici's dispatch callbacks (src/llm/providers/response-body.ts):
// its queue, its back-pressure on the socket, release and abort, against a fake controller and a real server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { dispatch, ResponseBody } from '../../src/llm/providers/response-body.js';

function fakeController(): Dispatcher.DispatchController & { aborts: unknown[] } {
  let paused = false;
  const aborts: unknown[] = [];
  return {
    aborts,
    get aborted() {
      return aborts.length > 0;
    },
    get paused() {
      return paused;
    },
    get reason() {
      return (aborts[0] as Error | undefined) ?? null;
    },
    abort: (reason: Error) => void aborts.push(reason),
    pause: () => void (paused = true),
    resume: () => void (paused = false),
  };
}

async function readAll(body: ResponseBody): Promise<string> {
  let text = '';
  for (let c = await body.read(); c !== null; c = await body.read()) text += c.toString('utf8');
  return text;
}

describe('ResponseBody', () => {
  it('hands chunks over in order, whether they arrive before or after the read', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.string({ minLength: 1 }), fc.boolean()), { maxLength: 20 }), async (steps) => {
        const body = new ResponseBody();
        body.controller = fakeController();
        let got = '';
        for (const [text, readFirst] of steps) {
          if (readFirst) {
            const next = body.read();
            body.push(Buffer.from(text));
            got += String(await next);
          } else {
            body.push(Buffer.from(text));
          }
        }
        body.end();
        got += await readAll(body);
        expect(got).toBe(steps.map(([t]) => t).join(''));
        expect(await body.read()).toBeNull();
      }),
    );
  });

  it('pauses the socket past 64 KiB unread and resumes once read below it', async () => {
    const body = new ResponseBody();
    const controller = fakeController();
    body.controller = controller;
    for (let i = 0; i < 5; i++) body.push(Buffer.alloc(16 * 1024));
    expect(controller.paused).toBe(true);
    await body.read();
    expect(controller.paused).toBe(false);
  });

  it('a failure rejects the waiting read and every later one', async () => {
    const body = new ResponseBody();
    const waiting = body.read();
    body.fail(new Error('reset'));
    await expect(waiting).rejects.toThrow('reset');
    await expect(body.read()).rejects.toThrow('reset');
    expect(body.finished).toBe(true);
  });

  it('release aborts an unfinished body and leaves a finished one alone', async () => {
    const open = new ResponseBody();
    const c1 = fakeController();
    open.controller = c1;
    open.push(Buffer.from('x'));
    open.release();
    expect(c1.aborts).toHaveLength(1);
    await expect(open.read()).rejects.toThrow(/released/);

    const done = new ResponseBody();
    const c2 = fakeController();
    done.controller = c2;
    done.end();
    done.release();
    expect(c2.aborts).toHaveLength(0);
  });
});

describe('dispatch over a real connection', () => {
  let server: Server;
  let pool: Pool;
  const big = 'y'.repeat(1024 * 1024);
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/big') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(big);
        return;
      }
      // Never answers: for aborts before the headers.
      if (req.url === '/hang') return;
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n');
      // ...and never ends: for aborts mid-body.
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  });
  afterAll(async () => {
    await pool.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  it('a 1 MiB body read slowly arrives whole (the socket pauses and resumes)', async () => {
    const res = await dispatch(pool, { method: 'GET', path: '/big' }, new AbortController().signal);
    expect(res.statusCode).toBe(200);
    let size = 0;
    for (let c = await res.body.read(); c !== null; c = await res.body.read()) {
      size += c.length;
      await new Promise((r) => setImmediate(r));
    }
    expect(size).toBe(big.length);
  });

  it('an abort before the headers rejects with the abort reason', async () => {
    const ac = new AbortController();
    const pending = dispatch(pool, { method: 'GET', path: '/hang' }, ac.signal);
    setTimeout(() => ac.abort('takeover'), 20);
    await expect(pending).rejects.toBe('takeover');
  });

  it('an abort mid-body fails the read with the abort reason', async () => {
    const ac = new AbortController();
    const res = await dispatch(pool, { method: 'GET', path: '/stream' }, ac.signal);
    expect(String(await res.body.read())).toContain('data: 1');
    const next = res.body.read();
    ac.abort('client_left');
    await expect(next).rejects.toBe('client_left');
  });

  it('an already aborted signal sends nothing', async () => {
    const ac = new AbortController();
    ac.abort('shutdown');
    await expect(dispatch(pool, { method: 'GET', path: '/big' }, ac.signal)).rejects.toBe('shutdown');
  });
});
