// The admin API's routes for connections (the upstream identity providers people may sign in
// through): add, read, change, delete; and the accounts at them a person has linked. The bodies
// are the connection service's own input schemas, so a bad field is named as sent; a connection's
// client secret goes in and never comes out.
import { z } from 'zod';
import { NotFoundError } from '../../errors/index.ts';
import { connectionCreateSchema, connectionUpdateSchema, identitySummaryView } from '../../federation/index.ts';
import { identifier } from '../../oauth/index.ts';
import { connectionResponse, deletedConnection, identitySummary, upstreamTokens } from '../responses.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'connections';

/** A connection is named by its name; an unknown one (however spelled) is a 404, not a 400. */
const byName = z.object({ name: identifier });

export const connectionRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/connections',
    summary: 'List connections, in their login-page order (never their secrets)',
    tag,
    access: 'read',
    response: z.array(connectionResponse),
    handler: (_, s) => s.federation.connections.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/connections',
    summary: 'Add a connection; register its callback_url upstream. An OpenID Connect issuer is checked by fetching its discovery document',
    tag,
    access: 'write',
    status: 201,
    body: connectionCreateSchema,
    response: connectionResponse,
    example: { name: 'google', preset: 'google', client_id: 'the-id-google-gave', client_secret: 'the-secret-google-gave' },
    handler: ({ body, actor }, s) => s.federation.connections.create(body, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/connections/{name}',
    summary: 'One connection',
    tag,
    access: 'read',
    params: byName,
    response: connectionResponse,
    handler: ({ params }, s) => s.federation.connections.get(params.name),
  }),
  defineRoute({
    method: 'patch',
    path: '/admin/connections/{name}',
    summary: "Change a connection's settings (client_secret replaces the secret); what is not given stays",
    tag,
    access: 'write',
    params: byName,
    body: connectionUpdateSchema,
    response: connectionResponse,
    example: { display_name: 'Sign in with Google', enabled: false },
    handler: ({ params, body, actor }, s) => s.federation.connections.update(params.name, body, actor),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/connections/{name}',
    summary: 'Delete a connection and every link to it (the local accounts stay); answers how many links went',
    tag,
    access: 'write',
    params: byName,
    response: deletedConnection,
    handler: ({ params, actor }, s) => s.federation.connections.delete(params.name, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/users/{id}/identities',
    summary: "A user's accounts at upstream identity providers, linked through connections",
    tag: 'users',
    access: 'read',
    params: byId,
    response: z.array(identitySummary),
    handler: async ({ params }, s) => {
      await s.users.get(params.id);
      return (await s.federation.identities.list(params.id)).map(identitySummaryView);
    },
  }),
  defineRoute({
    method: 'get',
    path: '/admin/users/{id}/identities/{identity}/tokens',
    summary:
      "The upstream's tokens kept for one linked identity (its connection has store_tokens), to call the upstream's APIs for the person; each read is an audit event",
    tag: 'users',
    access: 'write',
    params: z.object({ id: identifier, identity: identifier }),
    response: upstreamTokens,
    handler: async ({ params, actor }, s) => {
      const tokens = await s.federation.identities.tokens(params.id, params.identity, actor);
      if (!tokens) throw new NotFoundError(`upstream tokens of linked identity ${params.identity}`);
      return tokens;
    },
  }),
];
