// The service layer, assembled once from a config and a database. The CLI, the admin API and
// the pages all receive this object, so every rule lives in one place.
import pino, { type Logger } from 'pino';
import { createOrganizationService, createRoleService } from './access/index.ts';
import { createAccountTokens, createOwnAccount, createSelfService } from './accounts/index.ts';
import { createApiKeyService } from './apikeys/index.ts';
import { createFlashReads } from './artifacts/index.ts';
import { createAuditAggregator, createAuditLog } from './audit/index.ts';
import { createClientService } from './clients/index.ts';
import type { Config } from './config/index.ts';
import type { Database } from './db/index.ts';
import { createGrantService } from './grants/index.ts';
import { createKeyService } from './keys/index.ts';
import { createLimits } from './limits/index.ts';
import { createFactorService } from './factors/index.ts';
import { createFederation } from './federation/index.ts';
import { createOutbox, createTransport } from './mail/index.ts';
import type { Metrics } from './metrics/index.ts';
import { adminAudience, createResourceService } from './resources/index.ts';
import { createBrand, createViews } from './templates/index.ts';
import { createUserService } from './users/index.ts';

export interface ServicesOptions {
  config: Config;
  db: Database;
  metrics?: Metrics;
  /** This process is a cluster worker: without Redis, its limits are counted by the primary. */
  clusterWorker?: boolean;
  /** Where mail failures (and, without SMTP_URL, the outbox folder's links) are logged. */
  logger?: Logger;
}

/** MAIL_FROM, or the brand's name at no-reply@ the issuer's host. */
export function mailFrom(config: Pick<Config, 'mail' | 'brand' | 'issuer'>): string {
  if (config.mail.from) return config.mail.from;
  const host = new URL(config.issuer).hostname;
  const domain = /^[\d.]+$|^\[/.test(host) ? 'localhost' : host;
  return `"${config.brand.name.replace(/["\\]/g, '')}" <no-reply@${domain}>`;
}

export function createServices({ config, db, metrics, clusterWorker = false, logger = pino({ level: 'silent' }) }: ServicesOptions) {
  const audit = createAuditLog(db.prisma);
  // The pages' and mails' templates, in the operator's brand and the people's languages.
  const views = createViews({ brand: createBrand(config.brand) });
  const transport = createTransport({
    smtpUrl: config.mail.smtpUrl,
    from: mailFrom(config),
    outboxDirectory: config.mail.outboxDirectory,
    logger,
  });
  // What is sealed under KEY_ENCRYPTION_KEY (mail waiting, authenticator apps' secrets) uses it as base64url.
  const sealingKey = Buffer.from(config.keyEncryptionKey).toString('base64url');
  const outbox = createOutbox({
    prisma: db.prisma,
    provider: db.provider,
    transport,
    logger,
    sealingKey,
    pepper: config.hashPepper,
  });
  const auditAggregates = createAuditAggregator(audit);
  // People may never hold keys for Portcullis's own admin API.
  const resources = createResourceService({
    prisma: db.prisma,
    audit,
    withoutPersonalKeys: (audience) => audience === adminAudience(config.issuer),
  });
  // Who may get which scopes (src/access): read on every token for an API with rbac, cached for a second.
  const roles = createRoleService({ prisma: db.prisma, audit });
  const organizations = createOrganizationService({
    prisma: db.prisma,
    audit,
    pepper: config.hashPepper,
    issuer: config.issuer,
    outbox,
    views,
    creation: config.organizations.creation,
  });
  const apiKeys = createApiKeyService({
    prisma: db.prisma,
    pepper: config.hashPepper,
    prefix: config.apiKeyPrefix,
    audit,
    auditAggregates,
    resources,
    userKeyDays: config.userApiKeyDays,
    permitted: (resource, holder) => roles.permittedOn(resource, holder),
    organizations: {
      exists: async (id) => Boolean(await organizations.findById(id)),
      managesKeys: async (userId, organizationId) => Boolean((await organizations.membership(userId, organizationId))?.manageKeys),
    },
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
  const federation = createFederation({
    prisma: db.prisma,
    audit,
    sealingKey,
    pepper: config.hashPepper,
    issuer: config.issuer,
    production: config.production,
    timeoutSeconds: config.federationTimeoutSeconds,
  });
  const users = createUserService({
    prisma: db.prisma,
    audit,
    onAccessChanged: () => apiKeys.forgetCached(),
    onAddressProvenByReset: async (id, actor) => {
      await federation.identities.endUnprovenLinks(id, actor);
    },
    unverifiedAllowed: config.mail.deliverable,
  });
  // Item 1: a feature that needs mail does not work without it; with SIGNUP=closed the server
  // still starts, so it says what is off.
  if (config.production && !config.mail.deliverable)
    logger.warn(
      'SMTP_URL is not set: no mail can be delivered, so the forgotten-password and resend-verification pages are off and `user create --unverified` is refused',
    );
  const accountTokens = createAccountTokens({ prisma: db.prisma, pepper: config.hashPepper });
  return {
    audit,
    auditAggregates,
    views,
    /** Sign-up, verification, forgotten passwords and invitations, by mail (src/accounts). */
    selfService: createSelfService({
      prisma: db.prisma,
      users,
      tokens: accountTokens,
      outbox,
      views,
      rateLimiter: limits.rateLimiter,
      audit,
      issuer: config.issuer,
      signup: config.signup,
    }),
    /** The post/redirect/get flashes already shown (single-read across instances). */
    flashReads: createFlashReads({ prisma: db.prisma, provider: db.provider }),
    /** Mail waiting to be sent (src/mail). */
    outbox,
    /** One-time links and codes sent by mail (src/accounts). */
    accountTokens,
    /** What a signed-in person does with their own account on the account page (src/accounts; the grant service is stateless). */
    ownAccount: createOwnAccount({
      prisma: db.prisma,
      pepper: config.hashPepper,
      issuer: config.issuer,
      audit,
      auditAggregates,
      views,
      outbox,
      accountTokens,
      grants: createGrantService({ prisma: db.prisma, pepper: config.hashPepper, audit }),
      apiKeys,
      onAccessChanged: () => apiKeys.forgetCached(),
    }),
    // A deleted client or a person whose access ended: their keys' cached checks go at once here
    // (other instances within the cache's second).
    clients: createClientService({ prisma: db.prisma, pepper: config.hashPepper, audit, onDeleted: () => apiKeys.forgetCached() }),
    users,
    /** A person's second factors (authenticator app, recovery codes, passkeys) and their checks (src/factors). */
    factors: createFactorService({
      prisma: db.prisma,
      pepper: config.hashPepper,
      sealingKey,
      issuer: config.issuer,
      audit,
      outbox,
      views,
    }),
    /** Sign-in through other identity providers: connections, the upstream flow, linked identities (src/federation). */
    federation,
    /** Roles: named sets of API scopes held by people and clients (src/access). */
    roles,
    /** Organizations, their members, the template of organization roles, invitations (src/access). */
    organizations,
    resources,
    apiKeys,
    limits,
    keys: createKeyService({ prisma: db.prisma, config, audit }),
    grants: createGrantService({ prisma: db.prisma, pepper: config.hashPepper, audit }),
    /** Writes pending API-key usage and lets go of timers and connections. */
    async close() {
      // Mail written by this process (a CLI invitation) goes out before it ends; what fails is retried by a server.
      await outbox.flush().catch(() => 0);
      transport.close();
      await apiKeys.close();
      await auditAggregates.close();
      limits.close();
    },
  };
}

export type Services = ReturnType<typeof createServices>;
