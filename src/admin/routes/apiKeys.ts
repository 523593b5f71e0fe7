// The admin API's routes for API keys: list, create, revoke, rotate. An administrator may make a
// key for anyone (the owner fields); the pages make a person's own.
import { z } from 'zod';
import { apiKeyCreateSchema, apiKeyRotateSchema } from '../../apikeys/index.ts';
import { apiKeySummary, createdApiKey, rotatedApiKey } from '../responses.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'api-keys';

export const apiKeyRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/api-keys',
    summary: 'List API keys (never the keys)',
    tag,
    access: 'read',
    response: z.array(apiKeySummary),
    handler: (_, s) => s.apiKeys.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/api-keys',
    summary: 'Create an API key; the response holds the key, shown only this once',
    tag,
    access: 'write',
    status: 201,
    body: apiKeyCreateSchema,
    response: createdApiKey,
    example: { name: 'nightly export', scope: 'invoices:read', audiences: ['https://billing.example.com'], rate_limit: '100/1m' },
    handler: ({ body, actor }, s) => s.apiKeys.create(body, actor),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/api-keys/{id}/revoke',
    summary: 'Revoke an API key',
    tag,
    access: 'write',
    params: byId,
    response: apiKeySummary,
    handler: ({ params, actor }, s) => s.apiKeys.revoke(params.id, actor),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/api-keys/{id}/rotate',
    summary: 'Rotate an API key; the old one works for grace_seconds (default one day)',
    tag,
    access: 'write',
    params: byId,
    body: apiKeyRotateSchema,
    response: rotatedApiKey,
    example: { grace_seconds: 0 },
    handler: ({ params, body, actor }, s) => s.apiKeys.rotate(params.id, body, actor),
  }),
];
