// The admin API's Koa router: for each route of the tables, its guard (admin:read or
// admin:write), a JSON body (64 kB at most; any other content type is a 415), then the route's
// own parsing and handler; and GET /admin/openapi.json. Each change is audited by the service
// that makes it, with the admin client and address as the actor: nothing is recorded here.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { JSONWebKeySet } from 'jose';
import type { Actor } from '../audit/index.ts';
import { PortcullisError } from '../errors/index.ts';
import { scopeWords } from '../oauth/index.ts';
import { ADMIN_SCOPES } from '../resources/index.ts';
import type { Services } from '../services.ts';
import { requireAdminScope, type AdminState } from './auth.ts';
import { openApiDocument } from './openapi.ts';
import type { AdminRoute } from './route.ts';
import { adminRoutes } from './routes/index.ts';

export interface AdminRoutesOptions {
  services: Services;
  issuer: string;
  publicJwks: () => JSONWebKeySet;
}

/** A JSON body is the only kind the admin API reads; anything else is refused before parsing. */
const expectJson: Middleware = async function expectJson(ctx, next) {
  if (['POST', 'PATCH'].includes(ctx.method) && ctx.request.length && !ctx.is('application/json')) {
    throw new PortcullisError('unsupported_media_type', 415, 'send the body as application/json');
  }
  await next();
};

/** Who the guard let in: the admin client, from the request's address. */
function actorOf(state: AdminState, ip: string): Actor {
  return { type: 'admin', ...(state.adminClientId ? { id: state.adminClientId } : {}), ip };
}

/** The Koa path of an OpenAPI path template: /admin/clients/{id} → /admin/clients/:id. */
const koaPath = (route: AdminRoute) => route.path.replace(/\{(\w+)\}/g, ':$1');

export function createAdminRoutes({ services, issuer, publicJwks }: AdminRoutesOptions): Middleware {
  const router = new Router<AdminState>();
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' });
  // Read at every request (through the client service's one-second cache), so a client deleted
  // or a scope taken away ends admin access at once.
  const clientScope = async (clientId: string) => {
    const metadata = await services.clients.findProviderMetadata(clientId);
    return metadata ? new Set(scopeWords(metadata.allowed_scope)) : undefined;
  };
  const guards = {
    read: requireAdminScope(issuer, publicJwks, ADMIN_SCOPES.read, clientScope),
    write: requireAdminScope(issuer, publicJwks, ADMIN_SCOPES.write, clientScope),
  };

  router.get('/admin/openapi.json', async function openapi(ctx) {
    ctx.body = openApiDocument(issuer);
  });

  for (const route of adminRoutes) {
    router[route.method](koaPath(route), guards[route.access], expectJson, json, async function handle(ctx) {
      const result = await route.run(
        { params: ctx.params, query: ctx.query, body: ctx.request.body, actor: actorOf(ctx.state, ctx.ip) },
        services,
      );
      ctx.status = route.status ?? 200;
      if (ctx.status !== 204) ctx.body = result ?? {};
    });
  }
  // @koa/router types its middleware as needing the `params` and `router` it adds itself, so
  // Koa's plain Middleware is not assignable to it; at run time it takes any context.
  return router.routes() as unknown as Middleware;
}
