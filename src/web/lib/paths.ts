// The API prefix, read from where the page was served: `{prefix}/` or `{prefix}/console`.
export function prefix(): string {
  return window.location.pathname.replace(/\/console\/?$/, '').replace(/\/$/, '');
}

export function wsUrl(query: Record<string, string>): string {
  const proto = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const q = new URLSearchParams(query).toString();
  return `${proto}//${window.location.host}${prefix()}/ws?${q}`;
}
