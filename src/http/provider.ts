// The live oidc-provider as this server runs it: built from the services and the current signing
// keys, rebuilt on rotation, with the engine's events wired to the audit log, logs and metrics.
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import { isDatabaseError, type Database } from '../db/index.ts';
import { keySetVersion, loadSigningKeys } from '../keys/index.ts';
import type { Metrics } from '../metrics/index.ts';
import { createAccessRules, createLiveProvider, createProvider, type LiveProvider } from '../oidc/index.ts';
import type { Services } from '../services.ts';
import type { Views } from '../templates/index.ts';
import { answerOversizeBodies, BODY_ERROR_EVENTS } from './middleware.ts';

export interface LiveProviderOptions {
  config: Config;
  db: Database;
  services: Services;
  views: Views;
  metrics: Metrics;
  logger: Logger;
}

export function startLiveProvider({ config, db, services, views, metrics, logger }: LiveProviderOptions): Promise<LiveProvider> {
  // An audit event the engine reports is not worth failing its request over; a lost one is logged.
  const recordAudit = (event: Parameters<Services['audit']['record']>[0]) => {
    services.audit.record(event).catch((error: unknown) => logger.error({ err: error }, 'recording an audit event failed'));
  };
  return createLiveProvider({
    async build() {
      const keys = await loadSigningKeys(db.prisma, config.keyEncryptionKey);
      const { clients, users, resources, apiKeys, limits, grants, factors, roles, organizations } = services;
      const provider = createProvider({
        config,
        statements: db.statements,
        clients,
        users,
        resources,
        keys,
        views,
        apiKeys,
        rateLimiter: limits.rateLimiter,
        findGrantId: (accountId, clientId) => grants.latestFor(accountId, clientId),
        grantIsLive: (grantRef) => grants.isLive(grantRef),
        access: createAccessRules({ roles, organizations }),
        organizations,
        personPolicy: async (accountId) => ({
          mfaRequired: (await users.findById(accountId))?.mfaRequired ?? false,
          hasSecondFactor: await factors.hasSecondFactor(accountId),
        }),
        onTokenRevoked: ({ clientId, ip }) => {
          recordAudit({ type: 'token.revoked', actorType: 'client', actorId: clientId, ip, outcome: 'success' });
        },
        // RFC 8693: a client now holds a token that speaks for a person; never the tokens themselves.
        onTokenExchanged: ({ clientId, subject, subjectClientId, audience, scope, mode, ip }) => {
          recordAudit({
            type: 'token.exchanged',
            actorType: 'client',
            actorId: clientId,
            subject,
            ip,
            outcome: 'success',
            details: { audience, scope, mode, subject_client_id: subjectClientId },
          });
        },
        onRefreshTokenReuse: ({ clientId, accountId, grantId, ip }) => {
          logger.warn({ clientId, accountId }, 'refresh token reused; grant revoked');
          recordAudit({
            type: 'refresh_token.reused',
            actorType: 'client',
            actorId: clientId,
            subject: accountId,
            ip,
            outcome: 'failure',
            details: { grant_revoked: Boolean(grantId) },
          });
        },
      });
      provider.on('server_error', (_ctx, error) => {
        if (isDatabaseError(error)) metrics.databaseError();
        logger.error({ err: error }, 'oidc-provider server error');
      });
      // Its body reader's 400 for a body over its limit becomes 413 (src/http/middleware.ts).
      const oversize = answerOversizeBodies(views);
      // Every one of these events passes (ctx, error); the cast picks one of their typed overloads.
      for (const event of BODY_ERROR_EVENTS) provider.on(event as 'grant.error', oversize);
      provider.on('grant.success', (ctx) => metrics.tokenIssued(String(ctx.oidc.params?.grant_type ?? 'unknown')));
      return { provider, keys };
    },
    version: () => keySetVersion(db.prisma),
    pollIntervalMs: config.keysPollIntervalSeconds * 1000,
    logger,
  });
}
