// What both sides of the uWS server (uws-server.ts for HTTP, uws-socket.ts for the WebSocket)
// read from a uWS request and write to a uWS response. uWS's request and ArrayBuffers are only
// valid during their callback: everything here copies.
import { Buffer } from 'node:buffer';
import type { HttpResponse, HttpRequest as UwsRequest } from 'uWebSockets.js';
import { answerHeaders, replyBody, replyLength, statusLine, type HttpReply } from './routes.js';

export const text = (ab: ArrayBuffer): string => Buffer.from(ab).toString('utf8');

export function splitUrl(url: string, query: string | undefined): { path: string; query: URLSearchParams } {
  return { path: url, query: new URLSearchParams(query ?? '') };
}

export function copyHeaders(req: UwsRequest): Map<string, string> {
  const headers = new Map<string, string>();
  req.forEach((k, v) => headers.set(k, v));
  return headers;
}

export function write(res: HttpResponse, reply: HttpReply, head: boolean, base: Readonly<Record<string, string>>): void {
  res.cork(() => {
    res.writeStatus(statusLine(reply.status));
    for (const [k, v] of Object.entries(answerHeaders(reply, base))) res.writeHeader(k, v);
    // Closing after a HEAD: uWS v20 leaves a kept-alive connection unusable after endWithoutBody.
    if (head) res.endWithoutBody(replyLength(reply), true);
    else res.end(replyBody(reply));
  });
}
