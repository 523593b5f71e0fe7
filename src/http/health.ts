// Liveness and readiness: what an orchestrator asks before it sends traffic or restarts us.
import type Koa from 'koa';
import type { Database } from '../db/index.ts';
import type { LiveProvider } from '../oidc/index.ts';

export interface HealthOptions {
  db: Pick<Database, 'prisma'>;
  live: Pick<LiveProvider, 'current'>;
  /** True while shutting down: readiness then fails, so load balancers move on first. */
  closing: () => boolean;
}

/** `/healthz` (the process answers) and `/readyz` (it can serve: the database answers, a key signs). */
export function healthRoutes({ db, live, closing }: HealthOptions): Record<'/healthz' | '/readyz', Koa.Middleware> {
  return {
    '/healthz': async (ctx) => {
      ctx.body = { status: 'ok' };
    },
    '/readyz': async (ctx) => {
      if (closing()) {
        ctx.status = 503;
        ctx.body = { status: 'stopping' };
        return;
      }
      try {
        await db.prisma.$queryRawUnsafe('SELECT 1');
        ctx.body = { status: 'ready', database: 'ok', signing_kid: live.current().keys.signing.kid };
      } catch {
        ctx.status = 503;
        ctx.body = { status: 'unavailable', database: 'unreachable' };
      }
    },
  };
}
