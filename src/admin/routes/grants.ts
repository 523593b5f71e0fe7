// The admin API's routes for grants (what people consented to): list them, revoke them with
// everything issued from them. The query and the body are the same filter.
import { z } from 'zod';
import { grantFilterSchema } from '../../grants/index.ts';
import { grantSummary, revokedGrants } from '../responses.ts';
import { defineRoute } from '../route.ts';

const tag = 'grants';

export const grantRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/grants',
    summary: 'List grants, by user or client',
    tag,
    access: 'read',
    query: grantFilterSchema,
    response: z.array(grantSummary),
    handler: ({ query }, s) => s.grants.list(query),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/grants/revoke',
    summary: "Revoke grants (and all they issued) of a user, a client, or a user's grants to a client",
    tag,
    access: 'write',
    body: grantFilterSchema,
    response: revokedGrants,
    example: { client_id: 'a-client-id' },
    handler: async ({ body, actor }, s) => ({ revoked: await s.grants.revokeWhere(body, actor) }),
  }),
];
