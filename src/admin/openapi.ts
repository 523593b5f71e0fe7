// The OpenAPI 3.1 document of the admin API, written from the route tables: the paths, their
// security scopes, parameters, request bodies (with their examples) and responses all come from
// the schemas the server validates with, so the document cannot drift from what it accepts.
import { z } from 'zod';
import { ADMIN_SCOPES } from '../resources/index.ts';
import type { AdminRoute } from './route.ts';
import { adminRoutes } from './routes/index.ts';

/** JSON Schema 2020-12 of a zod schema, without `$schema` (OpenAPI 3.1 sets the dialect). */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output') {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { target: 'draft-2020-12', io });
  return rest;
}

function parametersOf(route: AdminRoute) {
  const path = Object.keys(route.params?.shape ?? {}).map((name) => ({ name, in: 'path', required: true, schema: { type: 'string' } }));
  const query = Object.entries(route.query ? (jsonSchema(route.query.strict(), 'input').properties ?? {}) : {}).map(([name, schema]) => ({
    name,
    in: 'query',
    required: false,
    schema,
  }));
  return [...path, ...query];
}

function requestBodyOf(body: z.ZodObject, example: Record<string, unknown> | undefined) {
  return {
    // Required only when some field is: a body of optional fields may be left out.
    required: Object.values(body.shape).some((field) => !z.safeParse(field, undefined).success),
    content: { 'application/json': { schema: jsonSchema(body.strict(), 'input'), ...(example ? { example } : {}) } },
  };
}

function responsesOf(route: AdminRoute) {
  const status = route.status ?? 200;
  return {
    [String(status)]: {
      description: status === 204 ? 'Done' : 'OK',
      ...(route.response ? { content: { 'application/json': { schema: jsonSchema(route.response, 'output') } } } : {}),
    },
    '400': {
      description: 'Malformed request: the body names the field',
      content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
    },
    '401': { description: 'No valid admin token (see WWW-Authenticate)' },
    '403': { description: 'The token lacks the scope' },
    ...(route.params ? { '404': { description: 'Not found' } } : {}),
  };
}

function operationOf(route: AdminRoute) {
  const parameters = parametersOf(route);
  return {
    summary: route.summary,
    tags: [route.tag],
    security: [{ bearer: [route.access === 'read' ? ADMIN_SCOPES.read : ADMIN_SCOPES.write] }],
    ...(parameters.length ? { parameters } : {}),
    ...(route.body ? { requestBody: requestBodyOf(route.body, route.example) } : {}),
    responses: responsesOf(route),
  };
}

/** The OpenAPI 3.1 document, made from the route tables. */
export function openApiDocument(issuer: string) {
  const paths: Record<string, Record<string, ReturnType<typeof operationOf>>> = {};
  for (const route of adminRoutes) (paths[route.path] ??= {})[route.method] = operationOf(route);
  return {
    openapi: '3.1.0',
    info: {
      title: 'Portcullis admin API',
      version: '1',
      description:
        'Manage clients, initial access tokens for dynamic client registration, users, connections to upstream identity providers, API resources, API keys, signing keys, grants, audit events, roles, and organizations (with their template of roles, members and invitations).',
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
