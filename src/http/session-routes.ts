// INTERIM placeholder until the storage work lands with the real session REST routes.
import type { Authenticator } from '../auth/jwt.js';
import type { SessionStore } from '../storage/types.js';
import type { Route } from './routes.js';

export function sessionRoutes(_options: { prefix: string; store: SessionStore; auth: Authenticator; onSessionEnded?: (id: string) => void }): Route[] {
  return [];
}
