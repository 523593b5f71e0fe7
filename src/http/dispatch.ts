// The one routing layer after the request frame: exact paths, the rooms' prefixes, Portcullis's
// handlers in front of oidc-provider's endpoints, and oidc-provider for everything else.
import type Koa from 'koa';
import { routedPath } from '../oidc/index.ts';
import { isUnder } from './middleware.ts';

export interface Routes {
  /** Handlers for one exact path. */
  exact: Record<string, Koa.Middleware>;
  /** Routers for every path below a prefix, in any letter case. */
  below: [prefix: string, middleware: Koa.Middleware][];
  /** Handlers in front of oidc-provider's own endpoints, keyed by the path its router matches. */
  routed: Record<string, Koa.Middleware>;
  /** oidc-provider: what nothing else answers, and what any handler passes on. */
  otherwise: Koa.Middleware;
}

/**
 * A handler for an exact path, else the pages' or the admin API's router for paths below theirs,
 * else a handler Portcullis puts in front of one of oidc-provider's own endpoints (`routed`, found
 * by the path oidc-provider's router will match: `routedPath`, any ASCII case and one trailing
 * slash, so no spelling slips past it), else (and after any of them, if it passes the request on)
 * oidc-provider. One layer rather than one per room: each Koa layer costs a closure and promises
 * on every request, and a router matches every route it has against every request it sees, so
 * the token endpoint should meet neither. The routed handlers are also entered under their own
 * spelling among the exact ones, so the usual spelling (POST /token, the benchmarked request) is
 * decided by one Map lookup.
 */
export function dispatch({ exact, below, routed, otherwise }: Routes): Koa.Middleware {
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
