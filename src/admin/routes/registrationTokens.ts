// The admin API's routes for initial access tokens (RFC 7591 section 3): make one (the response
// holds the token, shown only this once), list them (never a token), delete one. Clients register
// with them at /reg when CLIENT_REGISTRATION=on.
import { z } from 'zod';
import { registrationTokenCreateSchema } from '../../clients/index.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'registration-tokens';

const instant = z.string().describe('ISO 8601');
const tokenFields = {
  id: z.string(),
  grant_types: z.array(z.string()).describe('the grant types a client registered with it may have'),
  scope: z.string().describe('the API scopes a client registered with it may ask for'),
  expires_at: instant.nullable(),
  uses_left: z.number().int().nullable().describe('registrations it is still good for; null: no limit'),
  uses: z.number().int().describe('clients registered with it'),
  created_at: instant,
};
const registrationTokenSummary = z.strictObject(tokenFields);
const createdRegistrationToken = z.strictObject({
  ...tokenFields,
  token: z.string().describe('the initial access token, shown only this once: sent as a Bearer token to /reg'),
});

export const registrationTokenRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/registration-tokens',
    summary: 'List initial access tokens for dynamic client registration (never the tokens)',
    tag,
    access: 'read',
    response: z.array(registrationTokenSummary),
    handler: (_, s) => s.clients.registrationTokens.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/registration-tokens',
    summary: 'Make an initial access token; the response holds the token, shown only this once',
    tag,
    access: 'write',
    status: 201,
    body: registrationTokenCreateSchema,
    response: createdRegistrationToken,
    example: { expires_in_seconds: 86_400, uses: 1, grant_types: ['authorization_code', 'refresh_token'], scope: 'notes:read' },
    handler: ({ body, actor }, s) => s.clients.registrationTokens.create(body, actor),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/registration-tokens/{id}',
    summary: 'Delete an initial access token (clients registered with it stay)',
    tag,
    access: 'write',
    status: 204,
    params: byId,
    handler: ({ params, actor }, s) => s.clients.registrationTokens.delete(params.id, actor),
  }),
];
