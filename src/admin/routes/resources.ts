// The admin API's routes for API resources (the audiences of JWT access tokens).
import { z } from 'zod';
import { resourceCreateSchema, resourceUpdateSchema } from '../../resources/index.ts';
import { resourceSummary } from '../responses.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'resources';

export const resourceRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/resources',
    summary: 'List API resources',
    tag,
    access: 'read',
    response: z.array(resourceSummary),
    handler: (_, s) => s.resources.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/resources',
    summary: 'Register an API resource',
    tag,
    access: 'write',
    status: 201,
    body: resourceCreateSchema,
    response: resourceSummary,
    example: {
      audience: 'https://billing.example.com',
      scope: 'invoices:read invoices:write',
      ttl: 600,
      personal_key_scope: 'invoices:read',
    },
    handler: ({ body, actor }, s) => s.resources.create(body, actor),
  }),
  defineRoute({
    method: 'patch',
    path: '/admin/resources/{id}',
    summary:
      "Change the scopes people may put on API keys of their own for an API, or the clients that may exchange a person's token for it",
    tag,
    access: 'write',
    params: byId,
    body: resourceUpdateSchema,
    response: resourceSummary,
    example: { personal_key_scope: 'invoices:read', exchange_clients: ['reporting-service'] },
    handler: ({ params, body, actor }, s) => s.resources.update({ id: params.id }, body, actor),
  }),
];
