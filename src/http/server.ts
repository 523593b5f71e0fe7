// The composition root of the HTTP server: one call builds everything from a config and a
// database and returns the Koa app with `listen` and `close`. Tests start a whole server with it.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import mount from 'koa-mount';
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { createProvider, ensureSigningKey, loadSigningJwks, purgeExpiredArtifacts } from '../oidc/index.ts';
import { createServices, type Services } from '../services.ts';
import { errorHandler, requestLogger } from './middleware.ts';

export interface Server {
  app: Koa;
  services: Services;
  /** Serves requests arriving at an HTTP server the caller created (and may already have bound). */
  attach(server: http.Server): void;
  /** Starts listening; resolves with the URL actually bound (PORT=0 picks a free port). */
  listen(port?: number, host?: string): Promise<{ port: number; url: string }>;
  /** Stops accepting connections, lets requests in flight finish, and stops timers. Does not close the database. */
  close(): Promise<void>;
}

export interface ServerOptions {
  config: Config;
  db: Database;
  logger: Logger;
}

export async function createServer({ config, db, logger }: ServerOptions): Promise<Server> {
  const services = createServices({ config, db });
  const createdKid = await ensureSigningKey(db.prisma, config.keyEncryptionKey, config.signingKeyAlg);
  if (createdKid) {
    await services.audit.record({ type: 'signing_key.created', actorType: 'system', subject: createdKid, outcome: 'success' });
    logger.info({ kid: createdKid }, 'created the first signing key');
  }
  const jwks = await loadSigningJwks(db.prisma, config.keyEncryptionKey);
  const provider = createProvider({ config, prisma: db.prisma, clients: services.clients, users: services.users, jwks });
  provider.on('server_error', (_ctx, error) => logger.error({ err: error }, 'oidc-provider server error'));

  const app = new Koa();
  app.use(requestLogger(logger));
  app.use(errorHandler(logger));
  app.use(async function wellKnownAliases(ctx, next) {
    // RFC 8414 section 3: OAuth clients look for metadata here; it is the same document.
    if (ctx.path === '/.well-known/oauth-authorization-server') ctx.path = '/.well-known/openid-configuration';
    await next();
  });
  app.use(async function health(ctx, next) {
    if (ctx.path === '/healthz') {
      ctx.body = { status: 'ok' };
      return;
    }
    if (ctx.path === '/readyz') {
      try {
        await db.prisma.$queryRawUnsafe('SELECT 1');
        ctx.body = { status: 'ready', database: 'ok', signing_keys: jwks.keys.length };
      } catch {
        ctx.status = 503;
        ctx.body = { status: 'unavailable', database: 'unreachable' };
      }
      return;
    }
    await next();
  });
  app.use(mount(provider));

  const purge = setInterval(() => {
    purgeExpiredArtifacts(db.prisma)
      .then((count) => count && logger.debug({ count }, 'purged expired artifacts'))
      .catch((error: unknown) => logger.warn({ err: error }, 'purging expired artifacts failed'));
  }, config.purgeIntervalSeconds * 1000);
  purge.unref();

  let httpServer: http.Server | undefined;
  const handler = app.callback();
  return {
    app,
    services,
    attach(server) {
      httpServer = server;
      server.on('request', handler);
    },
    async listen(port = config.port, host = config.host) {
      const server = http.createServer();
      httpServer = server;
      server.on('request', handler);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => resolve());
      });
      const bound = (server.address() as AddressInfo).port;
      return { port: bound, url: `http://${host === '0.0.0.0' || host === '::' ? 'localhost' : host}:${bound}` };
    },
    async close() {
      clearInterval(purge);
      if (!httpServer) return;
      const server = httpServer;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
    },
  };
}
