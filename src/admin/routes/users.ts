// The admin API's routes for people: create, invite, disable and enable, require a second factor,
// reset a password, list sessions, and see and reset their second factors (never a secret).
import { z } from 'zod';
import { MAX_INVITATION_SECONDS } from '../../accounts/index.ts';
import { text } from '../../oauth/index.ts';
import {
  factorResetSchema,
  factorSummaryView,
  MAX_EMAIL_LENGTH,
  userCreateSchema,
  userPasswordSchema,
  userUpdateSchema,
} from '../../users/index.ts';
import { createdUser, factorSummary, sessionSummary, userSummary } from '../responses.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'users';

const invitationSchema = z.strictObject({
  email: text(MAX_EMAIL_LENGTH).describe('the address to invite: the login name of the account'),
  name: text(200).optional().describe('display name of the account, which the person may change'),
  expires_in: z
    .number()
    .int()
    .min(60)
    .max(MAX_INVITATION_SECONDS)
    .optional()
    .describe('seconds the link works (default 7 days, at most 30)'),
  lang: z.enum(['en', 'de']).optional().describe('the language of the mail (default en)'),
});

const invitationSummary = z.strictObject({
  id: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  expires_at: z.string(),
});

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
    path: '/admin/users/invitations',
    summary: 'Invite a person: a mailed link where they choose a password (SIGNUP=invite or open)',
    tag,
    access: 'write',
    status: 201,
    body: invitationSchema,
    response: invitationSummary,
    example: { email: 'grace@example.com', name: 'Grace Hopper', expires_in: 86_400 },
    handler: ({ body, actor }, s) =>
      s.selfService.invite({ email: body.email, name: body.name, expiresInSeconds: body.expires_in, lang: body.lang }, actor),
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
    method: 'patch',
    path: '/admin/users/{id}',
    summary: 'Change a user: whether every sign-in needs a second factor',
    tag,
    access: 'write',
    params: byId,
    body: userUpdateSchema,
    response: userSummary,
    example: { mfa_required: true },
    handler: ({ params, body, actor }, s) => s.users.setMfaRequired(params.id, body.mfa_required, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/users/{id}/factors',
    summary: "A user's second factors: authenticator app, passkeys, recovery codes left (never a secret)",
    tag,
    access: 'read',
    params: byId,
    response: factorSummary,
    handler: async ({ params }, s) => {
      await s.users.get(params.id);
      return factorSummaryView(await s.factors.summary(params.id));
    },
  }),
  defineRoute({
    method: 'post',
    path: '/admin/users/{id}/factors/reset',
    summary: "Remove a user's second factors (all, or only totp, passkeys or recovery_codes); answers what is left",
    tag,
    access: 'write',
    params: byId,
    body: factorResetSchema,
    response: factorSummary,
    example: { which: 'totp' },
    handler: async ({ params, body, actor }, s) => {
      await s.users.get(params.id);
      return factorSummaryView(await s.factors.reset(params.id, body.which, actor));
    },
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
