// The admin API: every route is one entry in `adminRoutes`, with its zod schemas. The same table
// registers the Koa routes, validates each request, and writes the OpenAPI 3.1 document, so the
// document cannot drift from what the server accepts. Handlers call the service layer the CLI
// uses: no rule is written twice.
import { bodyParser } from '@koa/bodyparser';
import Router from '@koa/router';
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import type { JSONWebKeySet } from 'jose';
import { InputError, PortcullisError } from '../errors/index.ts';
import { hasControlCharacters } from '../oauth/index.ts';
import type { Services } from '../services.ts';
import { ADMIN_SCOPES } from '../resources/index.ts';
import { requireAdminScope } from './auth.ts';

type Access = 'read' | 'write';

export interface AdminRoute {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** OpenAPI path template, e.g. /admin/clients/{id}. */
  path: string;
  summary: string;
  tag: string;
  access: Access;
  params?: z.ZodObject;
  query?: z.ZodObject;
  body?: z.ZodObject;
  /** A request body that must validate (checked by a test). */
  example?: Record<string, unknown>;
  status?: 200 | 201 | 204;
  handler(
    input: { params: Record<string, string>; query: Record<string, unknown>; body: Record<string, unknown>; actor: string },
    services: Services,
  ): Promise<unknown>;
}

/** Text from a request: no control characters (PostgreSQL cannot even store NUL). */
const text = (max: number) =>
  z
    .string()
    .max(max)
    .refine((value) => !hasControlCharacters(value), 'must not contain control characters');
const id = z.object({ id: text(200).min(1).describe('identifier') });
const uri = text(2000).min(1);
const scope = text(2000).describe('space-separated scopes');
const timestamp = z.iso.datetime().refine((value) => {
  const year = new Date(value).getUTCFullYear();
  return year >= 1970 && year <= 9999;
}, 'must be between 1970 and 9999');
const duration = z
  .number()
  .int()
  .min(0)
  .max(90 * 86400);

export const adminRoutes: AdminRoute[] = [
  // Clients
  {
    method: 'get',
    path: '/admin/clients',
    summary: 'List clients (never their secrets)',
    tag: 'clients',
    access: 'read',
    handler: (_, s) => s.clients.list(),
  },
  {
    method: 'post',
    path: '/admin/clients',
    summary: 'Register a client; the response holds its secret, shown only this once',
    tag: 'clients',
    access: 'write',
    status: 201,
    body: z.object({
      name: text(200).min(1),
      grant_types: z.array(text(200)).min(1),
      redirect_uris: z.array(uri).optional(),
      post_logout_redirect_uris: z.array(uri).optional(),
      scope: scope.optional(),
      public: z.boolean().optional(),
      token_endpoint_auth_method: z.enum(['client_secret_basic', 'client_secret_post', 'private_key_jwt']).optional(),
      jwks: z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).optional(),
      default_resource: uri.optional(),
      always_issue_refresh_token: z.boolean().optional(),
    }),
    example: { name: 'billing', grant_types: ['client_credentials'], scope: 'invoices:read' },
    handler: ({ body }, s) =>
      s.clients.create({
        name: body.name as string,
        grantTypes: body.grant_types as string[],
        redirectUris: (body.redirect_uris as string[] | undefined) ?? [],
        postLogoutRedirectUris: (body.post_logout_redirect_uris as string[] | undefined) ?? [],
        ...(body.scope !== undefined ? { scope: body.scope as string } : {}),
        public: body.public === true,
        ...(body.token_endpoint_auth_method ? { tokenEndpointAuthMethod: body.token_endpoint_auth_method as string } : {}),
        ...(body.jwks ? { jwks: body.jwks } : {}),
        ...(body.default_resource ? { defaultResource: body.default_resource as string } : {}),
        alwaysIssueRefreshToken: body.always_issue_refresh_token === true,
      }),
  },
  {
    method: 'get',
    path: '/admin/clients/{id}',
    summary: 'One client',
    tag: 'clients',
    access: 'read',
    params: id,
    handler: ({ params }, s) => s.clients.get(params.id!),
  },
  {
    method: 'patch',
    path: '/admin/clients/{id}',
    summary: "Change a client's name, redirect URIs or scope",
    tag: 'clients',
    access: 'write',
    params: id,
    body: z.object({
      name: text(200).min(1).optional(),
      redirect_uris: z.array(uri).optional(),
      post_logout_redirect_uris: z.array(uri).optional(),
      scope: scope.optional(),
    }),
    example: { scope: 'invoices:read invoices:write' },
    handler: ({ params, body }, s) =>
      s.clients.update(params.id!, {
        ...(body.name !== undefined ? { name: body.name as string } : {}),
        ...(body.redirect_uris !== undefined ? { redirectUris: body.redirect_uris as string[] } : {}),
        ...(body.post_logout_redirect_uris !== undefined ? { postLogoutRedirectUris: body.post_logout_redirect_uris as string[] } : {}),
        ...(body.scope !== undefined ? { scope: body.scope as string } : {}),
      }),
  },
  {
    method: 'delete',
    path: '/admin/clients/{id}',
    summary: 'Delete a client and everything issued to it',
    tag: 'clients',
    access: 'write',
    params: id,
    status: 204,
    handler: ({ params }, s) => s.clients.delete(params.id!),
  },
  {
    method: 'post',
    path: '/admin/clients/{id}/secret',
    summary: "Rotate a client's secret; the old one works for grace_seconds (default one day)",
    tag: 'clients',
    access: 'write',
    params: id,
    body: z.object({ grace_seconds: duration.optional() }),
    example: { grace_seconds: 3600 },
    handler: ({ params, body }, s) => s.clients.rotateSecret(params.id!, (body.grace_seconds as number | undefined) ?? 86400),
  },
  // Users
  { method: 'get', path: '/admin/users', summary: 'List users', tag: 'users', access: 'read', handler: (_, s) => s.users.list() },
  {
    method: 'post',
    path: '/admin/users',
    summary: 'Create a user',
    tag: 'users',
    access: 'write',
    status: 201,
    body: z.object({ email: text(320).min(3), password: z.string().min(8).max(1024), name: text(200).optional() }),
    example: { email: 'ada@example.com', password: 'a long passphrase', name: 'Ada Lovelace' },
    handler: ({ body }, s) =>
      s.users.create({
        email: body.email as string,
        password: body.password as string,
        ...(body.name ? { name: body.name as string } : {}),
      }),
  },
  {
    method: 'post',
    path: '/admin/users/{id}/disable',
    summary: 'Disable a user: no login, sessions ended, API keys stop',
    tag: 'users',
    access: 'write',
    params: id,
    handler: ({ params, actor }, s) => s.users.setDisabled(params.id!, true, { type: 'admin', id: actor }),
  },
  {
    method: 'post',
    path: '/admin/users/{id}/enable',
    summary: 'Enable a disabled user',
    tag: 'users',
    access: 'write',
    params: id,
    handler: ({ params, actor }, s) => s.users.setDisabled(params.id!, false, { type: 'admin', id: actor }),
  },
  {
    method: 'post',
    path: '/admin/users/{id}/password',
    summary: "Reset a user's password (their sessions end)",
    tag: 'users',
    access: 'write',
    params: id,
    status: 204,
    body: z.object({ password: z.string().min(8).max(1024) }),
    example: { password: 'a new long passphrase' },
    handler: ({ params, body, actor }, s) => s.users.resetPassword(params.id!, body.password as string, { type: 'admin', id: actor }),
  },
  {
    method: 'get',
    path: '/admin/users/{id}/sessions',
    summary: "A user's live sessions",
    tag: 'users',
    access: 'read',
    params: id,
    handler: ({ params }, s) => s.users.listSessions(params.id!),
  },
  // API resources
  {
    method: 'get',
    path: '/admin/resources',
    summary: 'List API resources',
    tag: 'resources',
    access: 'read',
    handler: (_, s) => s.resources.list(),
  },
  {
    method: 'post',
    path: '/admin/resources',
    summary: 'Register an API resource',
    tag: 'resources',
    access: 'write',
    status: 201,
    body: z.object({
      audience: uri,
      scope,
      ttl: z.number().int().optional(),
      name: text(200).optional(),
      personal_key_scope: scope.optional().describe('scopes people may put on API keys of their own for this API (default none)'),
    }),
    example: {
      audience: 'https://billing.example.com',
      scope: 'invoices:read invoices:write',
      ttl: 600,
      personal_key_scope: 'invoices:read',
    },
    handler: ({ body }, s) =>
      s.resources.create({
        audience: body.audience as string,
        scope: body.scope as string,
        ...(body.ttl !== undefined ? { ttl: body.ttl as number } : {}),
        ...(body.name ? { name: body.name as string } : {}),
        ...(body.personal_key_scope !== undefined ? { personalKeyScope: body.personal_key_scope as string } : {}),
      }),
  },
  {
    method: 'patch',
    path: '/admin/resources/{id}',
    summary: 'Change the scopes people may put on API keys of their own for an API',
    tag: 'resources',
    access: 'write',
    params: id,
    body: z.object({ personal_key_scope: scope.describe('scopes people may put on API keys of their own (empty: none)') }),
    example: { personal_key_scope: 'invoices:read' },
    handler: ({ params, body }, s) => s.resources.update({ id: params.id! }, { personalKeyScope: body.personal_key_scope as string }),
  },
  // API keys
  {
    method: 'get',
    path: '/admin/api-keys',
    summary: 'List API keys (never the keys)',
    tag: 'api-keys',
    access: 'read',
    handler: (_, s) => s.apiKeys.list(),
  },
  {
    method: 'post',
    path: '/admin/api-keys',
    summary: 'Create an API key; the response holds the key, shown only this once',
    tag: 'api-keys',
    access: 'write',
    status: 201,
    body: z.object({
      name: text(200).min(1),
      scope,
      audiences: z.array(uri).optional(),
      expires_in_seconds: z.number().int().optional(),
      owner_user_id: text(200).optional(),
      owner_client_id: text(200).optional(),
      rate_limit: text(40).optional(),
    }),
    example: { name: 'nightly export', scope: 'invoices:read', audiences: ['https://billing.example.com'], rate_limit: '100/1m' },
    handler: ({ body, actor }, s) =>
      s.apiKeys.create(
        {
          name: body.name as string,
          scope: body.scope as string,
          audiences: (body.audiences as string[] | undefined) ?? [],
          ...(body.expires_in_seconds !== undefined ? { expiresInSeconds: body.expires_in_seconds as number } : {}),
          ...(body.owner_user_id ? { ownerUserId: body.owner_user_id as string } : {}),
          ...(body.owner_client_id ? { ownerClientId: body.owner_client_id as string } : {}),
          ...(body.rate_limit ? { rateLimit: body.rate_limit as string } : {}),
        },
        { type: 'admin', id: actor },
      ),
  },
  {
    method: 'post',
    path: '/admin/api-keys/{id}/revoke',
    summary: 'Revoke an API key',
    tag: 'api-keys',
    access: 'write',
    params: id,
    handler: ({ params, actor }, s) => s.apiKeys.revoke(params.id!, { actor: { type: 'admin', id: actor } }),
  },
  {
    method: 'post',
    path: '/admin/api-keys/{id}/rotate',
    summary: 'Rotate an API key; the old one works for grace_seconds (default one day)',
    tag: 'api-keys',
    access: 'write',
    params: id,
    body: z.object({ grace_seconds: duration.optional() }),
    example: { grace_seconds: 0 },
    handler: ({ params, body, actor }, s) =>
      s.apiKeys.rotate(params.id!, (body.grace_seconds as number | undefined) ?? 86400, { actor: { type: 'admin', id: actor } }),
  },
  // Signing keys
  {
    method: 'get',
    path: '/admin/signing-keys',
    summary: 'List signing keys and their states',
    tag: 'signing-keys',
    access: 'read',
    handler: (_, s) => s.keys.list(),
  },
  {
    method: 'post',
    path: '/admin/signing-keys/rotate',
    summary: 'Rotate signing keys (next becomes current); force skips the wait for JWKS caches',
    tag: 'signing-keys',
    access: 'write',
    body: z.object({ force: z.boolean().optional() }),
    example: { force: false },
    handler: ({ body }, s) => s.keys.rotate({ force: body.force === true }),
  },
  // Grants
  {
    method: 'get',
    path: '/admin/grants',
    summary: 'List grants, by user or client',
    tag: 'grants',
    access: 'read',
    query: z.object({ account_id: text(200).optional(), client_id: text(200).optional() }),
    handler: ({ query }, s) =>
      s.grants.list({
        ...(query.account_id ? { accountId: query.account_id as string } : {}),
        ...(query.client_id ? { clientId: query.client_id as string } : {}),
      }),
  },
  {
    method: 'post',
    path: '/admin/grants/revoke',
    summary: "Revoke grants (and all they issued) of a user, a client, or a user's grants to a client",
    tag: 'grants',
    access: 'write',
    body: z.object({ account_id: text(200).optional(), client_id: text(200).optional() }),
    example: { client_id: 'a-client-id' },
    handler: async ({ body }, s) => ({
      revoked: await s.grants.revokeWhere({
        ...(body.account_id ? { accountId: body.account_id as string } : {}),
        ...(body.client_id ? { clientId: body.client_id as string } : {}),
      }),
    }),
  },
  // Audit events
  {
    method: 'get',
    path: '/admin/audit-events',
    summary: 'Audit events, newest first, a page at a time',
    tag: 'audit',
    access: 'read',
    query: z.object({
      since: timestamp.optional(),
      until: timestamp.optional(),
      type: text(100).optional(),
      actor: text(200).optional(),
      subject: text(200).optional(),
      limit: z.coerce.number().int().min(1).max(500).optional(),
      cursor: text(100).optional(),
    }),
    handler: ({ query }, s) =>
      s.audit.query({
        ...(query.since ? { since: new Date(query.since as string) } : {}),
        ...(query.until ? { until: new Date(query.until as string) } : {}),
        ...(query.type ? { type: query.type as string } : {}),
        ...(query.actor ? { actor: query.actor as string } : {}),
        ...(query.subject ? { subject: query.subject as string } : {}),
        limit: (query.limit as number | undefined) ?? 50,
        ...(query.cursor ? { cursor: query.cursor as string } : {}),
      }),
  },
];

/** Turns a zod failure into a 400 that names the field. */
function parse(schema: z.ZodObject | undefined, value: unknown, where: string): Record<string, unknown> {
  if (!schema) return {};
  const result = schema.strict().safeParse(value ?? {});
  if (result.success) return result.data as Record<string, unknown>;
  const issue = result.error.issues[0]!;
  const field = issue.path.length ? issue.path.join('.') : ((issue as { keys?: string[] }).keys?.join(', ') ?? where);
  throw new InputError(field, issue.message);
}

export function createAdminRoutes({
  services,
  issuer,
  publicJwks,
}: {
  services: Services;
  issuer: string;
  publicJwks: () => JSONWebKeySet;
}): Middleware {
  const router = new Router();
  const json = bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' });
  const clientScope = async (clientId: string) => {
    const metadata = await services.clients.findProviderMetadata(clientId);
    return metadata ? new Set(String((metadata as Record<string, unknown>).allowed_scope ?? '').split(' ')) : undefined;
  };
  const guards = {
    read: requireAdminScope(issuer, publicJwks, ADMIN_SCOPES.read, clientScope),
    write: requireAdminScope(issuer, publicJwks, ADMIN_SCOPES.write, clientScope),
  };

  const expectJson: Middleware = async function expectJson(ctx, next) {
    if (['POST', 'PATCH'].includes(ctx.method) && ctx.request.length && !ctx.is('application/json')) {
      throw new PortcullisError('unsupported_media_type', 415, 'send the body as application/json');
    }
    await next();
  };

  router.get('/admin/openapi.json', async function openapi(ctx) {
    ctx.body = openApiDocument(issuer);
  });

  for (const route of adminRoutes) {
    const koaPath = route.path.replace(/\{(\w+)\}/g, ':$1');
    router[route.method](koaPath, guards[route.access], expectJson, json, async function handle(ctx: Context) {
      const input = {
        params: parse(route.params, ctx.params, 'path') as Record<string, string>,
        query: parse(route.query, ctx.query, 'query'),
        body: route.body ? parse(route.body, ctx.request.body, 'body') : {},
        actor: ctx.state.adminClientId as string,
      };
      const result = await route.handler(input, services);
      if (route.access === 'write') {
        // Every change made through the admin API is an admin action on the record, by client.
        await services.audit.record({
          type: 'admin.action',
          actorType: 'admin',
          actorId: input.actor,
          subject: ctx.path,
          ip: ctx.ip,
          outcome: 'success',
          details: { operation: `${route.method.toUpperCase()} ${route.path}` },
        });
      }
      ctx.status = route.status ?? 200;
      if (ctx.status !== 204) ctx.body = result ?? {};
    });
  }
  return router.routes() as unknown as Middleware;
}

/** The OpenAPI 3.1 document, made from the route table. */
export function openApiDocument(issuer: string) {
  const toSchema = (schema: z.ZodObject) => {
    const { $schema: _ignored, ...rest } = z.toJSONSchema(schema.strict(), { target: 'draft-2020-12', io: 'input' }) as Record<
      string,
      unknown
    >;
    return rest;
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of adminRoutes) {
    const parameters = [
      ...Object.keys(route.params?.shape ?? {}).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } })),
      ...Object.entries((route.query ? (toSchema(route.query).properties as Record<string, object>) : {}) ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: false,
        schema,
      })),
    ];
    (paths[route.path] ??= {})[route.method] = {
      summary: route.summary,
      tags: [route.tag],
      security: [{ bearer: [route.access === 'read' ? ADMIN_SCOPES.read : ADMIN_SCOPES.write] }],
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              // Required only when some field is: a body of optional fields may be left out.
              required: Object.values(route.body.shape).some((field) => !(field as z.ZodType).safeParse(undefined).success),
              content: { 'application/json': { schema: toSchema(route.body), ...(route.example ? { example: route.example } : {}) } },
            },
          }
        : {}),
      responses: {
        [String(route.status ?? 200)]: { description: route.status === 204 ? 'Done' : 'OK' },
        '400': {
          description: 'Malformed request: the body names the field',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
        '401': { description: 'No valid admin token (see WWW-Authenticate)' },
        '403': { description: 'The token lacks the scope' },
        ...(route.params ? { '404': { description: 'Not found' } } : {}),
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Portcullis admin API',
      version: '1',
      description: 'Manage clients, users, API resources, API keys, signing keys, grants and audit events.',
    },
    servers: [{ url: issuer }],
    paths,
    components: {
      securitySchemes: {
        bearer: {
          type: 'oauth2',
          description: `Access tokens for the audience ${issuer}/admin from the client-credentials grant; admin:read reads, admin:write changes (and reads).`,
          flows: {
            clientCredentials: {
              tokenUrl: `${issuer}/token`,
              scopes: { [ADMIN_SCOPES.read]: 'read everything', [ADMIN_SCOPES.write]: 'change anything' },
            },
          },
        },
      },
      schemas: {
        Error: {
          type: 'object',
          properties: { error: { type: 'string' }, error_description: { type: 'string' }, field: { type: 'string' } },
          required: ['error'],
        },
      },
    },
  };
}
