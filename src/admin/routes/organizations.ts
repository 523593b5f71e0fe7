// The admin API's routes for organizations (the tenants of apps that sell to teams): the
// organizations themselves; the template of roles every organization offers; each one's members
// and the roles they hold there; and invitations, mailed links a person with the invited address
// accepts. The bodies are the organization service's own input schemas, so a bad field is named
// as sent; the service keeps the rules (an organization with live keys or clients stays).
import { z } from 'zod';
import {
  invitationCreateSchema,
  memberAddSchema,
  memberRolesSchema,
  organizationCreateSchema,
  organizationRoleCreateSchema,
  organizationRoleUpdateSchema,
  organizationUpdateSchema,
} from '../../access/index.ts';
import { SUPPORTED_LANGUAGES } from '../../i18n/index.ts';
import { identifier } from '../../oauth/index.ts';
import { memberSummary, organizationDetail, organizationInvitation, organizationRoleSummary, organizationSummary } from '../responses.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'organizations';

/** A template role is named by its name; an unknown one (however spelled) is a 404, not a 400. */
const byName = z.object({ name: identifier });
const byMember = z.object({ id: identifier, user_id: identifier });
const byInvitation = z.object({ id: identifier, invitation_id: identifier });

/** The invitation, and the language of its mail (as for an invitation to make an account). */
const invitationSchema = invitationCreateSchema.extend({
  lang: z.enum(SUPPORTED_LANGUAGES).optional().describe('the language of the mail (default en)'),
});

export const organizationRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/organizations',
    summary: 'List organizations, oldest first',
    tag,
    access: 'read',
    response: z.array(organizationSummary),
    handler: (_, s) => s.organizations.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/organizations',
    summary: 'Make an organization (with no members: add them, or invite them)',
    tag,
    access: 'write',
    status: 201,
    body: organizationCreateSchema,
    response: organizationSummary,
    example: { name: 'Acme', description: 'Our first customer' },
    handler: ({ body, actor }, s) => s.organizations.create(body, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/organizations/{id}',
    summary: 'One organization, with how many members it has',
    tag,
    access: 'read',
    params: byId,
    response: organizationDetail,
    handler: ({ params }, s) => s.organizations.show(params.id),
  }),
  defineRoute({
    method: 'patch',
    path: '/admin/organizations/{id}',
    summary: "Change an organization's name or description",
    tag,
    access: 'write',
    params: byId,
    body: organizationUpdateSchema,
    response: organizationSummary,
    example: { name: 'Acme Corporation' },
    handler: ({ params, body, actor }, s) => s.organizations.update(params.id, body, actor),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/organizations/{id}',
    summary:
      'Delete an organization with its members and invitations; refused (409) while API keys it owns are live or clients belong to it',
    tag,
    access: 'write',
    params: byId,
    status: 204,
    handler: ({ params, actor }, s) => s.organizations.delete(params.id, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/organization-roles',
    summary: 'List the roles every organization offers (the template), by name',
    tag,
    access: 'read',
    response: z.array(organizationRoleSummary),
    handler: (_, s) => s.organizations.listRoles(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/organization-roles',
    summary:
      "Add a role to the template; each permission is AUDIENCE:SCOPE, a scope of a registered API. manage_keys lets its holders manage the organization's API keys and invitations",
    tag,
    access: 'write',
    status: 201,
    body: organizationRoleCreateSchema,
    response: organizationRoleSummary,
    example: {
      name: 'admin',
      description: "Manages the team's keys and invitations",
      permissions: ['https://billing.example.com:invoices:read'],
      manage_keys: true,
    },
    handler: ({ body, actor }, s) => s.organizations.createRole(body, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/organization-roles/{name}',
    summary: 'One role of the template',
    tag,
    access: 'read',
    params: byName,
    response: organizationRoleSummary,
    handler: ({ params }, s) => s.organizations.showRole(params.name),
  }),
  defineRoute({
    method: 'patch',
    path: '/admin/organization-roles/{name}',
    summary: "Change a template role's description, permissions (the list replaces the one before) or manage_keys, in every organization",
    tag,
    access: 'write',
    params: byName,
    body: organizationRoleUpdateSchema,
    response: organizationRoleSummary,
    example: { manage_keys: false },
    handler: ({ params, body, actor }, s) => s.organizations.updateRole(params.name, body, actor),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/organization-roles/{name}',
    summary: 'Delete a template role; the members holding it lose it in every organization',
    tag,
    access: 'write',
    params: byName,
    status: 204,
    handler: ({ params, actor }, s) => s.organizations.deleteRole(params.name, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/organizations/{id}/members',
    summary: "An organization's members with the roles they hold there, in the order they joined",
    tag,
    access: 'read',
    params: byId,
    response: z.array(memberSummary),
    handler: ({ params }, s) => s.organizations.members(params.id),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/organizations/{id}/members',
    summary: 'Add a person to an organization with roles of the template; a member already there is a 409 (change their roles instead)',
    tag,
    access: 'write',
    params: byId,
    status: 201,
    body: memberAddSchema,
    response: memberSummary,
    example: { user_id: 'a-user-id', roles: ['admin'] },
    handler: ({ params, body, actor }, s) => s.organizations.addMember(params.id, body, actor),
  }),
  defineRoute({
    method: 'patch',
    path: '/admin/organizations/{id}/members/{user_id}',
    summary: "Change a member's roles: the list replaces the one before (an empty list leaves them a member with none)",
    tag,
    access: 'write',
    params: byMember,
    body: memberRolesSchema,
    response: memberSummary,
    example: { roles: ['admin'] },
    handler: ({ params, body, actor }, s) => s.organizations.setMemberRoles(params.id, params.user_id, body, actor),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/organizations/{id}/members/{user_id}',
    summary: 'Remove a member; their organization tokens end at their next refresh',
    tag,
    access: 'write',
    params: byMember,
    status: 204,
    handler: ({ params, actor }, s) => s.organizations.removeMember(params.id, params.user_id, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/organizations/{id}/invitations',
    summary: "An organization's invitations, newest first: open, accepted, expired or revoked (never their links)",
    tag,
    access: 'read',
    params: byId,
    response: z.array(organizationInvitation),
    handler: ({ params }, s) => s.organizations.invitations(params.id),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/organizations/{id}/invitations',
    summary:
      'Invite an address to join with roles of the template: a mailed link (valid expires_in_seconds, default 7 days) that a signed-in person with that address accepts once',
    tag,
    access: 'write',
    params: byId,
    status: 201,
    body: invitationSchema,
    response: organizationInvitation,
    example: { email: 'grace@example.com', roles: ['admin'], expires_in_seconds: 86_400 },
    handler: ({ params, body: { lang, ...invitation }, actor }, s) => s.organizations.invite(params.id, invitation, actor, lang),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/organizations/{id}/invitations/{invitation_id}',
    summary: 'Revoke an open invitation: its link stops working',
    tag,
    access: 'write',
    params: byInvitation,
    status: 204,
    handler: ({ params, actor }, s) => s.organizations.revokeInvitation(params.id, params.invitation_id, actor),
  }),
];
