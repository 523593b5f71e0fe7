// The composition root of the HTTP server: one call builds everything from a config and a
// database and returns the Koa app with `listen` and `close`. Tests start a whole server with it.
// What each part does lives in its own module; this one only builds and wires them.
import http from 'node:http';
import Koa from 'koa';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { createAdminRoutes } from '../admin/index.ts';
import { clusterMetrics, type WorkerRole } from '../cluster/index.ts';
import { jwksEndpoint } from '../keys/index.ts';
import { createMetrics, type Metrics } from '../metrics/index.ts';
import type { LiveProvider } from '../oidc/index.ts';
import { createInteractionRoutes } from '../pages/index.ts';
import { ADMIN_SCOPES, adminAudience } from '../resources/index.ts';
import { createServices, type Services } from '../services.ts';
import { staticAsset, textAsset, webauthnBrowserAsset } from '../templates/index.ts';
import { dispatch } from './dispatch.ts';
import { providerEndpoints } from './endpoints.ts';
import { healthRoutes } from './health.ts';
import { homeRoute } from './home.ts';
import { requestFrame } from './middleware.ts';
import { startLiveProvider } from './provider.ts';
import { startSchedule } from './schedule.ts';

export interface Server {
  app: Koa;
  services: Services;
  live: LiveProvider;
  metrics: Metrics;
  /** Serves requests arriving at an HTTP server the caller created (and may already have bound). */
  attach(server: http.Server): void;
  /**
   * Starts listening; resolves with the URL actually bound (PORT=0 picks a free port), and the
   * management port's when MANAGEMENT_PORT is set.
   */
  listen(port?: number, host?: string): Promise<{ port: number; url: string; managementPort?: number; managementUrl?: string }>;
  /** Stops accepting connections, lets requests in flight finish, and stops timers. Does not close the database. */
  close(): Promise<void>;
}

export interface ServerOptions {
  config: Config;
  db: Database;
  logger: Logger;
  /** Set when this server is one worker of a cluster (src/cluster). */
  worker?: WorkerRole | undefined;
}

export async function createServer({ config, db, logger, worker }: ServerOptions): Promise<Server> {
  const metrics = createMetrics(worker ? { gather: clusterMetrics } : {});
  const services = createServices({ config, db, metrics, clusterWorker: worker !== undefined, logger });
  const { views } = services;
  for (const warning of views.brand.warnings) logger.warn(warning);
  // Portcullis's own admin API is an API resource like any other.
  await services.resources.ensure(adminAudience(config.issuer), `${ADMIN_SCOPES.read} ${ADMIN_SCOPES.write}`, 'Portcullis admin API');
  const created = await services.keys.ensure();
  if (created.length) logger.info({ kids: created }, 'created signing keys');
  const live = await startLiveProvider({ config, db, services, views, metrics, logger });

  let closing = false;
  const app = createApp(config);
  const jwks = jwksEndpoint(() => live.current().keys.publicJwks, config.jwksMaxAgeSeconds);
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
    recentSignInSeconds: config.recentSignInSeconds,
    signup: config.signup,
    emailVerification: config.emailVerification,
    mailDeliverable: config.mail.deliverable,
    issuer: config.issuer,
    outbox: services.outbox,
    accountTokens: services.accountTokens,
    selfService: services.selfService,
    ownAccount: services.ownAccount,
    rateLimiter: services.limits.rateLimiter,
    flashReads: services.flashReads,
    factors: services.factors,
    federation: services.federation,
    mfa: config.mfa,
    roles: services.roles,
    organizations: services.organizations,
    organizationOwnerRoles: config.organizations.ownerRoles,
  });
  const adminRoutes = createAdminRoutes({ services, issuer: config.issuer, publicJwks: () => live.current().keys.publicJwks });
  // /metrics and the health checks: on the public port, or on MANAGEMENT_PORT alone when set.
  const operations = { ...healthRoutes({ db, live, closing: () => closing }), '/metrics': metrics.endpoint };
  const frame = requestFrame({ logger, metrics, https: config.issuer.startsWith('https:'), closing: () => closing, views });
  app.use(frame);
  app.use(
    dispatch({
      exact: {
        ...(config.managementPort === undefined ? operations : {}),
        '/': homeRoute(config.issuer, views),
        '/jwks': jwks,
        '/jwks/': jwks,
        '/assets/portcullis.css': staticAsset('/assets/portcullis.css', 'text/css; charset=utf-8'),
        '/assets/copy.js': staticAsset('/assets/copy.js', 'text/javascript; charset=utf-8'),
        '/assets/password.js': staticAsset('/assets/password.js', 'text/javascript; charset=utf-8'),
        // Passkeys: our script and @simplewebauthn/browser's bundle, both from this origin (script-src 'self').
        '/assets/passkeys.js': staticAsset('/assets/passkeys.js', 'text/javascript; charset=utf-8'),
        '/assets/webauthn-browser.js': webauthnBrowserAsset(),
        // The operator's colour (BRAND_COLOR), checked for contrast at start (src/templates/brand.ts).
        '/assets/brand.css': textAsset(views.brand.css, 'text/css; charset=utf-8'),
      },
      below: [
        ['/interaction', interactions],
        // An upstream identity provider's redirect back (src/pages/federation.ts).
        ['/federation', interactions],
        ['/account', interactions],
        ['/signup', interactions],
        ['/verify-email', interactions],
        ['/forgot-password', interactions],
        ['/reset-password', interactions],
        ['/invitation', interactions],
        // An invitation to join an organization, from its mail (src/pages/organizations.ts).
        ['/organization-invitation', interactions],
        ['/admin', adminRoutes],
      ],
      routed: providerEndpoints(config),
      // The token endpoint's limits are inside the provider (src/oidc/provider.ts), after client
      // authentication: a request can spend only its own authenticated client's budget.
      otherwise: (ctx, next) => live.middleware(ctx, next),
    }),
  );
  // The purge and scheduled rotation run once per cluster, in its first worker (each instance
  // of several runs them too: they are written to be safe when instances overlap).
  const schedule = !worker || worker.runsSchedule ? startSchedule({ config, db, services, live, logger }) : { stop: () => undefined };

  const management = config.managementPort === undefined ? undefined : createApp(config);
  management?.use(frame);
  management?.use(dispatch({ exact: operations, below: [], routed: {}, otherwise: notFound }));

  let httpServer: http.Server | undefined;
  let managementServer: http.Server | undefined;
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
      httpServer = await bind(http.createServer(handler), port, host);
      const bound = { port: boundPort(httpServer), url: urlOf(host, boundPort(httpServer)) };
      if (!management || config.managementPort === undefined) return bound;
      managementServer = await bind(http.createServer(management.callback()), config.managementPort, host);
      return { ...bound, managementPort: boundPort(managementServer), managementUrl: urlOf(host, boundPort(managementServer)) };
    },
    async close() {
      schedule.stop();
      live.close();
      closing = true;
      await Promise.all([httpServer, managementServer].flatMap((server) => (server ? [drain(server)] : [])));
      // Mail work a request began after answering (src/accounts/selfService.ts) finishes before the database closes.
      await services.selfService.settled();
      await services.close();
    },
  };
}

function createApp(config: Pick<Config, 'cookieKeys' | 'trustProxyHops' | 'issuer'>): Koa {
  const app = new Koa();
  // oidc-provider runs inside this app (koa-mount), so its signed cookies use this app's keys.
  app.keys = config.cookieKeys;
  // oidc-provider writes every absolute URL it hands out (discovery's endpoints, the address a
  // login resumes at, the htu a DPoP proof must name, the audience of a client assertion) from
  // ctx.href, which Koa builds from the request: its Host (X-Forwarded-Host and -Proto behind a
  // trusted proxy), or an absolute request target. A forged Host would put another server's name
  // into the discovery document, which caches may keep (endpoints.ts), and behind a proxy that
  // ends TLS the endpoints would be http. The ISSUER is this server's one public address (OpenID
  // Connect Discovery 1.0 section 3; RFC 8414 section 3.3): every URL starts from it.
  const origin = new URL(config.issuer).origin;
  Object.defineProperty(app.request, 'href', {
    get(this: Koa.Request) {
      return origin + pathAndQuery(this.originalUrl);
    },
  });
  // Behind reverse proxies: trust X-Forwarded-* from exactly that many hops (client IP, scheme,
  // host), so ctx.ip is the client's and cookies are Secure when the client used https.
  if (config.trustProxyHops > 0) {
    app.proxy = true;
    app.maxIpsCount = config.trustProxyHops;
  }
  return app;
}

/** The path and query of a request target, also when it came in absolute form (`GET http://host/path`). */
function pathAndQuery(target: string): string {
  if (target.startsWith('/')) return target;
  try {
    const url = new URL(target);
    return url.pathname + url.search;
  } catch {
    return '/';
  }
}

function bind(server: http.Server, port: number, host: string): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

const urlOf = (host: string, port: number) => `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${port}`;

/** The management port's answer to anything but its three paths. */
const notFound: Koa.Middleware = async (ctx) => {
  ctx.status = 404;
  ctx.body = { error: 'not_found', error_description: 'this port serves /metrics, /healthz and /readyz only' };
};

function boundPort(server: http.Server): number {
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('the server is not bound to a TCP port');
  return address.port;
}

/** How long shutdown waits for requests in flight before cutting their connections. */
const SHUTDOWN_DEADLINE_MS = 10_000;

/**
 * Stops accepting connections and resolves when the last one closed: requests in flight finish; a
 * connection still open after the deadline (a slow or stuck client) is cut, so shutdown always ends.
 */
function drain(server: http.Server): Promise<void> {
  return new Promise<void>((resolve) => {
    const deadline = setTimeout(() => server.closeAllConnections(), SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    server.close(() => {
      clearTimeout(deadline);
      resolve();
    });
    server.closeIdleConnections();
  });
}
