// The service layer, assembled once from a config and a database. The CLI, the admin API and
// the pages all receive this object, so every rule lives in one place.
import { createApiKeyService, createRateLimiter } from './apikeys/index.ts';
import { createAuditLog } from './audit/index.ts';
import { createClientService } from './clients/index.ts';
import type { Config } from './config/index.ts';
import type { Database } from './db/index.ts';
import type { Metrics } from './metrics/index.ts';
import { createGrantService } from './grants/index.ts';
import { createKeyService } from './oidc/index.ts';
import { createResourceService } from './resources/index.ts';
import { createUserService } from './users/index.ts';

export function createServices({ config, db, metrics }: { config: Config; db: Database; metrics?: Metrics }) {
  const audit = createAuditLog(db.prisma);
  const resources = createResourceService({ prisma: db.prisma, audit });
  const apiKeys = createApiKeyService({
    prisma: db.prisma,
    pepper: config.hashPepper,
    prefix: config.apiKeyPrefix,
    audit,
    resources,
    ...(metrics ? { onVerify: metrics.apiKeyVerified } : {}),
  });
  const rateLimiter = createRateLimiter({ redisUrl: config.redisUrl });
  return {
    audit,
    clients: createClientService({ prisma: db.prisma, pepper: config.hashPepper, audit }),
    users: createUserService({ prisma: db.prisma, audit }),
    resources,
    apiKeys,
    rateLimiter,
    keys: createKeyService({ prisma: db.prisma, config, audit }),
    grants: createGrantService({ prisma: db.prisma, pepper: config.hashPepper, audit }),
    /** Writes pending API-key usage and lets go of timers and connections. */
    async close() {
      await apiKeys.close();
      await rateLimiter.close();
    },
  };
}

export type Services = ReturnType<typeof createServices>;
