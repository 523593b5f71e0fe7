// The admin API's routes for people: create, disable and enable, reset a password, list sessions.
import { z } from 'zod';
import { userCreateSchema, userPasswordSchema } from '../../users/index.ts';
import { createdUser, sessionSummary, userSummary } from '../responses.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'users';

export const userRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/users',
    summary: 'List users',
    tag,
    access: 'read',
    response: z.array(userSummary),
    handler: (_, s) => s.users.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/users',
    summary: 'Create a user',
    tag,
    access: 'write',
    status: 201,
    body: userCreateSchema,
    response: createdUser,
    example: { email: 'ada@example.com', password: 'a long passphrase', name: 'Ada Lovelace' },
    handler: ({ body, actor }, s) => s.users.create(body, actor),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/users/{id}/disable',
    summary: 'Disable a user: no login, sessions ended, API keys stop',
    tag,
    access: 'write',
    params: byId,
    response: userSummary,
    handler: ({ params, actor }, s) => s.users.setDisabled(params.id, true, actor),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/users/{id}/enable',
    summary: 'Enable a disabled user',
    tag,
    access: 'write',
    params: byId,
    response: userSummary,
    handler: ({ params, actor }, s) => s.users.setDisabled(params.id, false, actor),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/users/{id}/password',
    summary: "Reset a user's password (their sessions end)",
    tag,
    access: 'write',
    params: byId,
    status: 204,
    body: userPasswordSchema,
    example: { password: 'a new long passphrase' },
    handler: ({ params, body, actor }, s) => s.users.resetPassword(params.id, body, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/users/{id}/sessions',
    summary: "A user's live sessions",
    tag,
    access: 'read',
    params: byId,
    response: z.array(sessionSummary),
    handler: ({ params }, s) => s.users.listSessions(params.id),
  }),
];
