// REST calls with the page's token; errors become ApiError with the server's code and message.
import { prefix } from './paths.js';
import type { HttpErrorJson } from './wire.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export async function api<T>(path: string, options: { token?: string | undefined; method?: string } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${prefix()}${path}`, {
      method: options.method ?? 'GET',
      headers: options.token === undefined ? {} : { authorization: `Bearer ${options.token}` },
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the server cannot be reached; check your connection');
  }
  const body: unknown = await res.json().catch(() => undefined);
  if (!res.ok) {
    const err = (body as HttpErrorJson | undefined)?.error;
    const retry = res.headers.get('retry-after');
    const message = err?.message ?? `request failed (${res.status})`;
    throw new ApiError(res.status, err?.code ?? 'HTTP', retry === null ? message : `${message} (retry in ${retry} s)`);
  }
  return body as T;
}
