// Prometheus metrics (prom-client), one registry per server: no global state, so tests and
// several servers in one process do not mix their counts.
import type { Context, Middleware } from 'koa';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Paths served outside any router, named as themselves; anything unknown is one label. */
const FIXED_ROUTES = new Set(['/', '/jwks', '/jwks/', '/healthz', '/readyz', '/metrics', '/assets/portcullis.css', '/assets/copy.js']);

export interface MetricsOptions {
  /**
   * What /metrics answers with, given this process's registry: by default that registry alone;
   * in a cluster worker, every worker's counts added up (src/cluster asks the primary).
   */
  gather?: (registry: Registry) => () => Promise<string>;
}

export function createMetrics({ gather }: MetricsOptions = {}) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'portcullis_' });
  const requests = new Counter({
    name: 'portcullis_http_requests_total',
    help: 'HTTP requests by route, method and status.',
    labelNames: ['route', 'method', 'status'] as const,
    registers: [registry],
  });
  const latency = new Histogram({
    name: 'portcullis_http_request_duration_seconds',
    help: 'HTTP request latency by route.',
    labelNames: ['route', 'method'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'portcullis_tokens_issued_total',
    help: 'Successful token endpoint grants, by grant type.',
    labelNames: ['grant_type'] as const,
    registers: [registry],
  });
  const apiKeyChecks = new Counter({
    name: 'portcullis_api_key_verifications_total',
    help: 'API key verifications by outcome (valid, malformed, unknown, revoked, expired).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const databaseErrors = new Counter({
    name: 'portcullis_database_errors_total',
    help: 'Requests that failed because the database did.',
    registers: [registry],
  });

  const collect = gather ? gather(registry) : () => registry.metrics();

  /** A label that cannot grow without bound: the route's name or pattern, never the raw path. */
  function routeOf(ctx: {
    path: string;
    state: Record<string, unknown>;
    oidc?: { route?: string };
    routePath?: string;
    _matchedRoute?: string;
  }): string {
    return ctx.oidc?.route ?? ctx.routePath ?? ctx._matchedRoute ?? (FIXED_ROUTES.has(ctx.path) ? ctx.path : 'unmatched');
  }

  // Each label set's bound child is kept (the sets are few and bounded: routes, methods Node's
  // parser accepts, statuses), found by nested lookups rather than a key string built on every
  // request; prom-client then skips turning a label object into a child each time.
  type Children<T> = Map<string, Map<string, T>>;
  const latencyChildren: Children<ReturnType<typeof latency.labels>> = new Map();
  const requestChildren: Children<Map<number, ReturnType<typeof requests.labels>>> = new Map();
  const tokenChildren = new Map<string, ReturnType<typeof tokens.labels>>();
  const child = <T>(children: Children<T>, route: string, method: string, make: () => T): T => {
    let byMethod = children.get(route);
    if (!byMethod) children.set(route, (byMethod = new Map()));
    let found = byMethod.get(method);
    if (found === undefined) byMethod.set(method, (found = make()));
    return found;
  };
  /** Counts a finished request and its latency, labelled by route, method and status. */
  function observeRequest(ctx: Context, seconds: number): void {
    const route = routeOf(ctx as never);
    const { method, status } = ctx;
    child(latencyChildren, route, method, () => latency.labels(route, method)).observe(seconds);
    const byStatus = child(requestChildren, route, method, () => new Map());
    let counter = byStatus.get(status);
    if (!counter) byStatus.set(status, (counter = requests.labels(route, method, String(status))));
    counter.inc();
  }

  return {
    registry,
    observeRequest,
    /** Called on success only, so the grant types are the few that are registered. */
    tokenIssued(grantType: string): void {
      let counter = tokenChildren.get(grantType);
      if (!counter) tokenChildren.set(grantType, (counter = tokens.labels(grantType)));
      counter.inc();
    },
    apiKeyVerified: (outcome: string) => apiKeyChecks.inc({ outcome }),
    databaseError: () => databaseErrors.inc(),
    /** The /metrics endpoint, in Prometheus's text format. */
    endpoint: async function metrics(ctx, next) {
      if (ctx.path !== '/metrics' || ctx.method !== 'GET') return next();
      ctx.type = registry.contentType;
      ctx.body = await collect();
    } as Middleware,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
