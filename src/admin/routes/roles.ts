// The admin API's routes for roles (named sets of permissions, the scopes an API with rbac gives):
// make, read, change, delete; give one to a person or a client and take it away; and the roles a
// person or a client holds. The bodies and the query are the role service's own input schemas,
// so a bad field is named as sent; the service checks each permission against the registered APIs.
import { z } from 'zod';
import { roleAssignmentSchema, roleCreateSchema, roleUpdateSchema } from '../../access/index.ts';
import { identifier } from '../../oauth/index.ts';
import { roleAssigned, roleDetail, roleNames, roleSummary, roleUnassigned } from '../responses.ts';
import { byId, defineRoute } from '../route.ts';

const tag = 'roles';

/** A role is named by its name; an unknown one (however spelled) is a 404, not a 400. */
const byName = z.object({ name: identifier });

export const roleRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/roles',
    summary: 'List roles, by name',
    tag,
    access: 'read',
    response: z.array(roleSummary),
    handler: (_, s) => s.roles.list(),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/roles',
    summary:
      'Make a role; each permission is AUDIENCE:SCOPE, a scope of a registered API. A default role is given to every account made from now on',
    tag,
    access: 'write',
    status: 201,
    body: roleCreateSchema,
    response: roleSummary,
    example: {
      name: 'billing-reader',
      description: 'Reads invoices',
      permissions: ['https://billing.example.com:invoices:read'],
      default: false,
    },
    handler: ({ body, actor }, s) => s.roles.create(body, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/roles/{name}',
    summary: 'One role, with how many people and clients hold it',
    tag,
    access: 'read',
    params: byName,
    response: roleDetail,
    handler: ({ params }, s) => s.roles.show(params.name),
  }),
  defineRoute({
    method: 'patch',
    path: '/admin/roles/{name}',
    summary: "Change a role's description, permissions (the list replaces the one before) or default mark; holders' next tokens follow",
    tag,
    access: 'write',
    params: byName,
    body: roleUpdateSchema,
    response: roleSummary,
    example: { permissions: ['https://billing.example.com:invoices:read', 'https://billing.example.com:invoices:write'] },
    handler: ({ params, body, actor }, s) => s.roles.update(params.name, body, actor),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/roles/{name}',
    summary: 'Delete a role; its holders lose what it gave at their next token',
    tag,
    access: 'write',
    params: byName,
    status: 204,
    handler: ({ params, actor }, s) => s.roles.delete(params.name, actor),
  }),
  defineRoute({
    method: 'post',
    path: '/admin/roles/{name}/assignments',
    summary: 'Give a role to a person (user_id) or a client (client_id); giving one already held changes nothing (assigned: false)',
    tag,
    access: 'write',
    params: byName,
    body: roleAssignmentSchema,
    response: roleAssigned,
    example: { user_id: 'a-user-id' },
    handler: ({ params, body, actor }, s) => s.roles.assign(params.name, body, actor),
  }),
  defineRoute({
    method: 'delete',
    path: '/admin/roles/{name}/assignments',
    summary:
      'Take a role away from a person (?user_id=) or a client (?client_id=); their next token, a refresh included, no longer carries what it gave',
    tag,
    access: 'write',
    params: byName,
    // In the query, not a body: a DELETE's body is not read (and many HTTP clients cannot send one).
    query: roleAssignmentSchema,
    response: roleUnassigned,
    handler: ({ params, query, actor }, s) => s.roles.unassign(params.name, query, actor),
  }),
  defineRoute({
    method: 'get',
    path: '/admin/users/{id}/roles',
    summary: 'The roles a person holds, by name',
    tag: 'users',
    access: 'read',
    params: byId,
    response: roleNames,
    handler: async ({ params }, s) => {
      await s.users.get(params.id);
      return s.roles.namesOf({ type: 'user', id: params.id });
    },
  }),
  defineRoute({
    method: 'get',
    path: '/admin/clients/{id}/roles',
    summary: 'The roles a client holds, by name',
    tag: 'clients',
    access: 'read',
    params: byId,
    response: roleNames,
    handler: async ({ params }, s) => {
      await s.clients.get(params.id);
      return s.roles.namesOf({ type: 'client', id: params.id });
    },
  }),
];
