// The service layer, assembled once from a config and a database. The CLI, the admin API and
// the pages all receive this object, so every rule lives in one place.
import { createApiKeyService } from './apikeys/index.ts';
import { createAuditAggregator, createAuditLog } from './audit/index.ts';
import { createClientService } from './clients/index.ts';
import type { Config } from './config/index.ts';
import type { Database } from './db/index.ts';
import { createGrantService } from './grants/index.ts';
import { createKeyService } from './keys/index.ts';
import { createLimits } from './limits/index.ts';
import type { Metrics } from './metrics/index.ts';
import { adminAudience, createResourceService } from './resources/index.ts';
import { createUserService } from './users/index.ts';

export interface ServicesOptions {
  config: Config;
  db: Database;
  metrics?: Metrics;
  /** This process is a cluster worker: without Redis, its limits are counted by the primary. */
  clusterWorker?: boolean;
}

export function createServices({ config, db, metrics, clusterWorker = false }: ServicesOptions) {
  const audit = createAuditLog(db.prisma);
  const auditAggregates = createAuditAggregator(audit);
  // People may never hold keys for Portcullis's own admin API.
  const resources = createResourceService({
    prisma: db.prisma,
    audit,
    withoutPersonalKeys: (audience) => audience === adminAudience(config.issuer),
  });
  const apiKeys = createApiKeyService({
    prisma: db.prisma,
    pepper: config.hashPepper,
    prefix: config.apiKeyPrefix,
    audit,
    auditAggregates,
    resources,
    userKeyDays: config.userApiKeyDays,
    ...(metrics ? { onVerify: metrics.apiKeyVerified } : {}),
  });
  // One Redis connection (when configured) for every limit: API keys, endpoints, logins.
  const limits = createLimits({
    redisUrl: config.redisUrl,
    inClusterPrimary: clusterWorker && !config.redisUrl,
    login: {
      accountFailures: config.login.maxFailures,
      accountDailyFailures: config.login.accountMaxFailures,
      ipFailures: config.login.ipMaxFailures,
      lockSeconds: config.login.lockSeconds,
    },
  });
  return {
    audit,
    auditAggregates,
    // A deleted client or a person whose access ended: their keys' cached checks go at once here
    // (other instances within the cache's second).
    clients: createClientService({ prisma: db.prisma, pepper: config.hashPepper, audit, onDeleted: () => apiKeys.forgetCached() }),
    users: createUserService({ prisma: db.prisma, audit, onAccessChanged: () => apiKeys.forgetCached() }),
    resources,
    apiKeys,
    limits,
    keys: createKeyService({ prisma: db.prisma, config, audit }),
    grants: createGrantService({ prisma: db.prisma, pepper: config.hashPepper, audit }),
    /** Writes pending API-key usage and lets go of timers and connections. */
    async close() {
      await apiKeys.close();
      await auditAggregates.close();
      limits.close();
    },
  };
}

export type Services = ReturnType<typeof createServices>;
