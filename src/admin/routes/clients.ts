// The admin API's routes for OAuth clients: register, read, change, rotate the secret, delete.
// The bodies are the client service's own input schemas, so a bad field is named as sent.
import { z } from 'zod';
import { clientCreateSchema, clientSecretRotateSchema, clientUpdateSchema } from '../../clients/index.ts';
import { clientSummary, createdClient, rotatedClientSecret } from '../responses.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'clients';

export const clientRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/clients',
    summary: 'List clients (never their secrets)',
    tag,
    access: 'read',
    response: z.array(clientSummary),
    handler: (_, s) => s.clients.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/clients',
    summary: 'Register a client; the response holds its secret, shown only this once',
    tag,
    access: 'write',
    status: 201,
    body: clientCreateSchema,
    response: createdClient,
    example: { name: 'billing', grant_types: ['client_credentials'], scope: 'invoices:read' },
    handler: ({ body, actor }, s) => s.clients.create(body, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/clients/{id}',
    summary: 'One client',
    tag,
    access: 'read',
    params: byId,
    response: clientSummary,
    handler: ({ params }, s) => s.clients.get(params.id),
  }),
  defineRoute({
    method: 'patch',
    path: '/admin/clients/{id}',
    summary: "Change a client's name, redirect URIs, scope or whether sign-ins need a second factor",
    tag,
    access: 'write',
    params: byId,
    body: clientUpdateSchema,
    response: clientSummary,
    example: { scope: 'invoices:read invoices:write' },
    handler: ({ params, body, actor }, s) => s.clients.update(params.id, body, actor),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/clients/{id}',
    summary: 'Delete a client and everything issued to it',
    tag,
    access: 'write',
    params: byId,
    status: 204,
    handler: ({ params, actor }, s) => s.clients.delete(params.id, actor),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/clients/{id}/secret',
    summary: "Rotate a client's secret; the old one works for grace_seconds (default one day)",
    tag,
    access: 'write',
    params: byId,
    body: clientSecretRotateSchema,
    response: rotatedClientSecret,
    example: { grace_seconds: 3600 },
    handler: ({ params, body, actor }, s) => s.clients.rotateSecret(params.id, body, actor),
  }),
];
