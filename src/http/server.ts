// The composition root of the HTTP server: one call builds everything from a config and a
// database and returns the Koa app with `listen` and `close`. Tests start a whole server with it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { createAdminRoutes } from '../admin/index.ts';
import { purgeExpiredArtifacts } from '../artifacts/index.ts';
import { isDatabaseError } from '../db/index.ts';
import { jwksEndpoint, keySetVersion, loadSigningKeys } from '../keys/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import { createLiveProvider, createProvider, routedPath, type LiveProvider } from '../oidc/index.ts';
import { createInteractionRoutes } from '../pages/index.ts';
import { ADMIN_SCOPES, adminAudience } from '../resources/index.ts';
import { createServices, type Services } from '../services.ts';
import { createViews, staticAsset } from '../templates/index.ts';
import { answerOversizeBodies, BODY_ERROR_EVENTS, isUnder, methodsAllowed, requestFrame } from './middleware.ts';

export interface Server {
  app: Koa;
  services: Services;
  live: LiveProvider;
  metrics: Metrics;
  /** Serves requests arriving at an HTTP server the caller created (and may already have bound). */
  attach(server: http.Server): void;
  /** Starts listening; resolves with the URL actually bound (PORT=0 picks a free port). */
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /** Stops accepting connections, lets requests in flight finish, and stops timers. Does not close the database. */
  close(): Promise<void>;
}

/** How long shutdown waits for requests in flight before cutting their connections. */
const SHUTDOWN_DEADLINE_MS = 10_000;

/**
 * The one dispatch after the request frame: a handler for an exact path, else the pages' or
 * the admin API's router for paths below theirs, else a handler Portcullis puts in front of one of
 * oidc-provider's own endpoints (`routed`, found by the path oidc-provider's router will match:
 * `routedPath`, any ASCII case and one trailing slash, so no spelling slips past it), else (and
 * after any of them, if it passes the request on) oidc-provider. One layer rather than one
 * per room: each Koa layer costs a closure and promises on every request, and a router matches
 * every route it has against every request it sees, so the token endpoint should meet neither.
 * The routed handlers are also entered under their own spelling among the exact ones, so the
 * usual spelling (POST /token, the benchmarked request) is decided by one Map lookup.
 */
function dispatch({
  exact,
  below,
  routed,
  otherwise,
}: {
  exact: Record<string, Koa.Middleware>;
  below: [prefix: string, middleware: Koa.Middleware][];
  routed: Record<string, Koa.Middleware>;
  otherwise: Koa.Middleware;
}): Koa.Middleware {
  for (const path of Object.keys(routed)) {
    if (routedPath(path) !== path) throw new Error(`${path} is not spelled as oidc-provider routes it`);
  }
  const byRoute = new Map(Object.entries(routed));
  const handlers = new Map([...byRoute, ...Object.entries(exact)]);
  return function route(ctx, next) {
    const path = ctx.path;
    // A handler that passes a request on (a router with no such route) hands it to oidc-provider.
    const handler = handlers.get(path) ?? below.find(([prefix]) => isUnder(path, prefix))?.[1] ?? byRoute.get(routedPath(path));
    return handler ? handler(ctx, () => otherwise(ctx, next)) : otherwise(ctx, next);
  };
}

export interface ServerOptions {
  config: Config;
  db: Database;
  logger: Logger;
}

export async function createServer({ config, db, logger }: ServerOptions): Promise<Server> {
  const metrics = createMetrics();
  const services = createServices({ config, db, metrics });
  const views = createViews();
  // Portcullis's own admin API is an API resource like any other.
  await services.resources.ensure(adminAudience(config.issuer), `${ADMIN_SCOPES.read} ${ADMIN_SCOPES.write}`, 'Portcullis admin API');
  const created = await services.keys.ensure();
  if (created.length) logger.info({ kids: created }, 'created signing keys');

  const live = await createLiveProvider({
    async build() {
      const keys = await loadSigningKeys(db.prisma, config.keyEncryptionKey);
      const { clients, users, resources, audit, apiKeys, limits } = services;
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
        findGrantId: (accountId, clientId) => services.grants.latestFor(accountId, clientId),
        grantIsLive: (grantRef) => services.grants.isLive(grantRef),
        onTokenRevoked: ({ clientId, ip }) => {
          audit
            .record({ type: 'token.revoked', actorType: 'client', actorId: clientId, ip, outcome: 'success' })
            .catch((error: unknown) => logger.error({ err: error }, 'recording an audit event failed'));
        },
        onRefreshTokenReuse: ({ clientId, accountId, grantId, ip }) => {
          logger.warn({ clientId, accountId }, 'refresh token reused; grant revoked');
          audit
            .record({
              type: 'refresh_token.reused',
              actorType: 'client',
              actorId: clientId,
              subject: accountId,
              ip,
              outcome: 'failure',
              details: { grant_revoked: Boolean(grantId) },
            })
            .catch((error: unknown) => logger.error({ err: error }, 'recording an audit event failed'));
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

  const app = new Koa();
  // oidc-provider runs inside this app (koa-mount), so its signed cookies use this app's keys.
  app.keys = config.cookieKeys;
  // Behind reverse proxies: trust X-Forwarded-* from exactly that many hops (client IP, scheme,
  // host), so ctx.ip is the client's and cookies are Secure when the client used https.
  if (config.trustProxyHops > 0) {
    app.proxy = true;
    app.maxIpsCount = config.trustProxyHops;
  }
  let closing = false;
  app.use(requestFrame({ logger, metrics, https: config.issuer.startsWith('https:'), closing: () => closing, views }));
  const jwks = jwksEndpoint(() => live.current().keys.publicJwks as never, config.jwksMaxAgeSeconds);
  const postOnly = methodsAllowed(['POST'], 'this endpoint accepts only POST (RFC 6749 section 3.2)');
  // The discovery document changes only with the configuration, not with key rotation (keys are
  // in the JWKS), so caches may keep it as long as they may keep the JWKS: JWKS_MAX_AGE_SECONDS
  // (10 minutes by default, at most a day) is then the one bound on how old a client's picture of
  // this server is. Only a 200 is marked cacheable.
  const discoveryCacheControl = `public, max-age=${config.jwksMaxAgeSeconds}`;
  const discoveryMethods = methodsAllowed(['GET', 'HEAD'], 'the discovery document is read with GET');
  const discovery: Koa.Middleware = (ctx, next) =>
    discoveryMethods(ctx, async () => {
      ctx.path = '/.well-known/openid-configuration';
      await next();
      if (ctx.status === 200) ctx.set('Cache-Control', discoveryCacheControl);
    });
  const interactions = createInteractionRoutes({
    provider: () => live.current().provider,
    views,
    users: services.users,
    resources: services.resources,
    audit: services.audit,
    auditAggregates: services.auditAggregates,
    grants: services.grants,
    apiKeys: services.apiKeys,
    limits: services.limits.logins,
    csrfKey: config.cookieKeys[0]!,
    userKeyDays: config.userApiKeyDays,
    recentSignInSeconds: config.recentSignInSeconds,
  });
  const adminRoutes = createAdminRoutes({ services, issuer: config.issuer, publicJwks: () => live.current().keys.publicJwks as never });
  app.use(
    dispatch({
      exact: {
        '/healthz': async (ctx) => {
          ctx.body = { status: 'ok' };
        },
        '/readyz': async (ctx) => {
          if (closing) {
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
        '/metrics': metrics.endpoint,
        '/jwks': jwks,
        '/jwks/': jwks,
        '/assets/portcullis.css': staticAsset('/assets/portcullis.css', 'text/css; charset=utf-8'),
        '/assets/copy.js': staticAsset('/assets/copy.js', 'text/javascript; charset=utf-8'),
      },
      below: [
        ['/interaction', interactions],
        ['/account', interactions],
        ['/admin', adminRoutes],
      ],
      routed: {
        // RFC 6749 section 3.2: the client MUST use POST at the token endpoint (and RFC 7662
        // section 2.1 and RFC 7009 section 2.1 at introspection and revocation); anything else is
        // 405 with Allow (RFC 9110 section 15.5.6), not oidc-provider's plain-text 404.
        '/token': postOnly,
        '/token/introspection': postOnly,
        '/token/revocation': postOnly,
        '/.well-known/openid-configuration': discovery,
        // RFC 8414 section 3: OAuth clients look for metadata here; it is the same document.
        '/.well-known/oauth-authorization-server': discovery,
      },
      // The token endpoint's limits are inside the provider (src/oidc/provider.ts), after client
      // authentication: a request can spend only its own authenticated client's budget.
      otherwise: (ctx, next) => live.middleware(ctx, next),
    }),
  );

  const timers: NodeJS.Timeout[] = [];
  const every = (seconds: number, what: string, work: () => Promise<unknown>) => {
    const timer = setInterval(() => {
      work().catch((error: unknown) => logger.warn({ err: error }, `${what} failed`));
    }, seconds * 1000);
    timer.unref();
    timers.push(timer);
  };
  every(config.purgeIntervalSeconds, 'purging expired artifacts', async () => {
    const purged = await purgeExpiredArtifacts(db.prisma);
    if (purged) logger.debug({ purged }, 'purged expired artifacts');
    if ((await services.keys.retireExpired()).length) await live.refresh();
    await services.audit.purgeBefore(new Date(Date.now() - config.auditRetentionDays * 86_400_000));
  });
  if (config.keyRotationIntervalSeconds > 0) {
    // Checked often enough to be on time; the rotation itself is conditioned on the key state,
    // so several instances checking at once rotate once.
    every(Math.min(config.keyRotationIntervalSeconds / 10, 3600), 'scheduled key rotation', async () => {
      const rotated = await services.keys.rotateIfDue(config.keyRotationIntervalSeconds);
      if (rotated) {
        logger.info({ ...rotated }, 'rotated signing keys on schedule');
        await live.refresh();
      }
    });
  }

  let httpServer: http.Server | undefined;
  const handler = app.callback();
  return {
    app,
    services,
    live,
    metrics,
    attach(server) {
      httpServer = server;
      server.on('request', handler);
    },
    async listen(port = config.port, host = config.host) {
      const server = http.createServer(handler);
      httpServer = server;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      const bound = (server.address() as AddressInfo).port;
      return { port: bound, url: `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${bound}` };
    },
    async close() {
      for (const timer of timers) clearInterval(timer);
      live.close();
      closing = true;
      if (httpServer) {
        const server = httpServer;
        await new Promise<void>((resolve) => {
          // Requests in flight finish; a connection that is still open after the deadline (a
          // slow or stuck client) is cut, so shutdown always ends.
          const deadline = setTimeout(() => server.closeAllConnections(), SHUTDOWN_DEADLINE_MS);
          deadline.unref();
          server.close(() => {
            clearTimeout(deadline);
            resolve();
          });
          server.closeIdleConnections();
        });
      }
      await services.close();
    },
  };
}
