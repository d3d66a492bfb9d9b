// The headers every page and API answer carries, in one place (both transports add them to every
// reply, 404s and errors included). The web app has no inline script or style, so the policy
// allows only this origin; embedding is allowed to this origin and the CORS_ORIGINS sites.
export function securityHeaders(corsOrigins: readonly string[]): Readonly<Record<string, string>> {
  const ancestors = ["'self'", ...corsOrigins].join(' ');
  const csp = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    `frame-ancestors ${ancestors}`,
  ].join('; ');
  return {
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    // frame-ancestors wins where supported; the old header only for same-origin-only setups,
    // since it cannot name other sites.
    ...(corsOrigins.length === 0 ? { 'x-frame-options': 'SAMEORIGIN' } : {}),
  };
}
