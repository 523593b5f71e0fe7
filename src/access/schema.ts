// The inputs of roles and organizations, in the wire's names. A permission is written
// `AUDIENCE:SCOPE`: a scope of a registered API, after its audience and a colon (the audience is
// found among the registered APIs, so a scope may itself hold a colon: `https://api:read:invoices`).
import { z } from 'zod';
import { identifier, optionalText, text } from '../oauth/index.ts';

/** A role's or an organization role's name: what assignments and tokens' `roles` claims say. */
export const roleName = text(100)
  .min(1, 'is required')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'must be letters, digits, dots, dashes, underscores or colons, starting with a letter or digit')
  .describe("the role's name");

/** At most this many permissions per role: a role is a list an administrator reads, not a catalogue. */
export const MAX_PERMISSIONS = 200;
const permissions = z
  .array(text(2100).min(1, 'is required'))
  .max(MAX_PERMISSIONS, `must name at most ${MAX_PERMISSIONS} permissions`)
  .describe('scopes of registered APIs, each AUDIENCE:SCOPE');

export const roleCreateSchema = z.object({
  name: roleName,
  description: optionalText(text(500)),
  permissions: permissions.default([]),
  default: z.boolean().default(false).describe('given to every account made from now on'),
});
export type RoleCreateInput = z.input<typeof roleCreateSchema>;

/** What an update changes; a list given replaces the one before. */
export const roleUpdateSchema = z.object({
  description: optionalText(text(500)),
  permissions: permissions.optional(),
  default: z.boolean().optional(),
});
export type RoleUpdateInput = z.input<typeof roleUpdateSchema>;

/** Who holds a role: a person or a client, never both. */
export const roleAssignmentSchema = z.object({
  user_id: optionalText(identifier),
  client_id: optionalText(identifier),
});
export type RoleAssignmentInput = z.input<typeof roleAssignmentSchema>;

export const organizationCreateSchema = z.object({
  name: text(200).trim().min(1, 'is required').describe("the organization's name, as people see it"),
  description: optionalText(text(500)),
});
export type OrganizationCreateInput = z.input<typeof organizationCreateSchema>;

export const organizationUpdateSchema = z.object({
  name: text(200).trim().min(1, 'is required').optional(),
  description: optionalText(text(500)),
});
export type OrganizationUpdateInput = z.input<typeof organizationUpdateSchema>;

export const organizationRoleCreateSchema = z.object({
  name: roleName,
  description: optionalText(text(500)),
  permissions: permissions.default([]),
  manage_keys: z.boolean().default(false).describe("its holders manage the organization's API keys and invitations"),
});
export type OrganizationRoleCreateInput = z.input<typeof organizationRoleCreateSchema>;

export const organizationRoleUpdateSchema = z.object({
  description: optionalText(text(500)),
  permissions: permissions.optional(),
  manage_keys: z.boolean().optional(),
});
export type OrganizationRoleUpdateInput = z.input<typeof organizationRoleUpdateSchema>;

const memberRoles = z.array(roleName).max(50, 'must name at most 50 roles').describe('organization roles (names)');

export const memberAddSchema = z.object({
  user_id: identifier,
  roles: memberRoles.default([]),
});
export type MemberAddInput = z.input<typeof memberAddSchema>;

export const memberRolesSchema = z.object({ roles: memberRoles });
export type MemberRolesInput = z.input<typeof memberRolesSchema>;

/** An invitation lasts a week unless told, 30 days at most. */
export const INVITATION_SECONDS = { default: 7 * 86_400, min: 3600, max: 30 * 86_400 } as const;
export const invitationCreateSchema = z.object({
  email: text(320).trim().toLowerCase().pipe(z.email('must be an email address')),
  roles: memberRoles.default([]),
  expires_in_seconds: z
    .number()
    .int('must be from 1 hour to 30 days')
    .min(INVITATION_SECONDS.min, 'must be from 1 hour to 30 days')
    .max(INVITATION_SECONDS.max, 'must be from 1 hour to 30 days')
    .default(INVITATION_SECONDS.default),
});
export type InvitationCreateInput = z.input<typeof invitationCreateSchema>;
