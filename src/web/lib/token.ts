// The page's token: `?token=` (then dropped from the address bar and kept in sessionStorage), or
// a postMessage({type: "chatbox_token", token}) from the page that embeds this one.
const KEY = 'chatbox_token';

export function takeToken(): string | undefined {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl !== null && fromUrl !== '') {
    sessionStorage.setItem(KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(KEY) ?? undefined;
}

/** Calls `onToken` when the embedding page sends a token (only the parent frame is listened to). */
export function listenForToken(onToken: (token: string) => void): () => void {
  const listener = (event: MessageEvent): void => {
    if (window.parent === window || event.source !== window.parent) return;
    const data: unknown = event.data;
    if (typeof data !== 'object' || data === null) return;
    const { type, token } = data as { type?: unknown; token?: unknown };
    if (type !== 'chatbox_token' || typeof token !== 'string' || token === '') return;
    sessionStorage.setItem(KEY, token);
    onToken(token);
  };
  window.addEventListener('message', listener);
  return () => window.removeEventListener('message', listener);
}

/** Claims of a JWT, read for display only (the server verifies it). */
export function claims(token: string): { user_id?: string; name?: string; roles?: string[] } {
  try {
    const part = token.split('.')[1] ?? '';
    return JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { user_id?: string; name?: string; roles?: string[] };
  } catch {
    return {};
  }
}
