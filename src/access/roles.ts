// Roles: named sets of permissions held by people and clients. An API registered with `rbac`
// gives a person, a client or a key only the scopes their roles give (src/oidc/provider.ts,
// clientCredentials.ts, apiKeys.ts, tokenExchange.ts). What a subject holds is read on every
// token for such an API, so it is cached for a second like clients: the instance that makes a
// change forgets at once, the others within the second.
import crypto from 'node:crypto';
import { actorFields, createAuditLog, SYSTEM_ACTOR, type Actor, type AuditLog } from '../audit/index.ts';
import { createTtlCache } from '../cache/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { isStorableText, parseInput } from '../oauth/index.ts';
import { permissionText, readPermissions, scopesOn, sortedPermissions, type Permission } from './permissions.ts';
import {
  roleAssignmentSchema,
  roleCreateSchema,
  roleUpdateSchema,
  type RoleAssignmentInput,
  type RoleCreateInput,
  type RoleUpdateInput,
} from './schema.ts';

/** A role as every surface shows it, permissions in the wire's form, sorted. */
export interface RoleView {
  id: string;
  name: string;
  description: string | null;
  default: boolean;
  permissions: string[];
  created_at: string;
}

/** A role described whole in the create input's names: what `portcullis export` writes and apply compares. */
export interface RoleDefinition {
  name: string;
  description?: string;
  permissions: string[];
  default: boolean;
}

/** What a subject holds: each role's name and the permissions it gives. */
export interface HeldRole {
  name: string;
  permissions: Permission[];
}

/** Who holds a role. */
export type Holder = { type: 'user'; id: string } | { type: 'client'; id: string };

type RoleRow = {
  id: string;
  name: string;
  description: string | null;
  isDefault: boolean;
  createdAt: Date;
  permissions: { audience: string; scope: string }[];
};

function view(row: RoleRow): RoleView {
  return {
    id: row.id,
    name: row.name,
    description: row.description,
    default: row.isDefault,
    permissions: sortedPermissions(row.permissions).map(permissionText),
    created_at: row.createdAt.toISOString(),
  };
}

/** The holder an assignment names: a person or a client, exactly one. */
export function holderOf(input: RoleAssignmentInput): Holder {
  const valid = parseInput(roleAssignmentSchema, input);
  if (valid.user_id && valid.client_id) throw new InputError('client_id', 'a role is assigned to a user or a client, not both');
  if (valid.user_id) return { type: 'user', id: valid.user_id };
  if (valid.client_id) return { type: 'client', id: valid.client_id };
  throw new InputError('user_id', 'is required, unless client_id is given');
}

const holderKey = (holder: Holder) => `${holder.type}:${holder.id}`;

/**
 * Gives a new account the default roles, in the transaction that made it (every way an account
 * is made calls this), each an audit event by the system.
 */
export async function giveDefaultRoles(tx: Prisma, userId: string): Promise<void> {
  const defaults = await tx.role.findMany({ where: { isDefault: true }, select: { id: true, name: true } });
  if (defaults.length === 0) return;
  await tx.userRole.createMany({ data: defaults.map((role) => ({ userId, roleId: role.id })) });
  const audit = createAuditLog(tx);
  for (const role of defaults) {
    await audit.record({
      type: 'role.assigned',
      ...actorFields(SYSTEM_ACTOR),
      subject: role.name,
      outcome: 'success',
      details: { user_id: userId, default: true },
    });
  }
}

export function createRoleService({ prisma, audit }: { prisma: Prisma; audit: AuditLog }) {
  const held = createTtlCache<HeldRole[]>(1000);

  async function find(name: string): Promise<RoleRow> {
    const row = isStorableText(name) ? await prisma.role.findUnique({ where: { name }, include: { permissions: true } }) : null;
    if (!row) throw new NotFoundError(`role ${name}`);
    return row;
  }

  /** The holder exists (a user or a client), or the assignment names nobody. */
  async function checkHolder(holder: Holder): Promise<void> {
    const exists =
      holder.type === 'user'
        ? await prisma.user.findUnique({ where: { id: holder.id }, select: { id: true } })
        : await prisma.client.findUnique({ where: { id: holder.id }, select: { id: true } });
    if (!exists) throw new InputError(holder.type === 'user' ? 'user_id' : 'client_id', `no ${holder.type} has the id ${holder.id}`);
  }

  async function writePermissions(tx: Prisma, roleId: string, permissions: Permission[]) {
    await tx.rolePermission.deleteMany({ where: { roleId } });
    if (permissions.length) await tx.rolePermission.createMany({ data: permissions.map((permission) => ({ roleId, ...permission })) });
  }

  const service = {
    async create(input: RoleCreateInput, actor: Actor): Promise<RoleView> {
      const valid = parseInput(roleCreateSchema, input);
      const permissions = await readPermissions(prisma, valid.permissions);
      if (await prisma.role.findUnique({ where: { name: valid.name }, select: { id: true } })) {
        throw new ConflictError(`a role named ${valid.name} already exists`);
      }
      const id = crypto.randomUUID();
      await prisma.$transaction(async (tx) => {
        await tx.role.create({ data: { id, name: valid.name, description: valid.description ?? null, isDefault: valid.default } });
        await writePermissions(tx as Prisma, id, permissions);
      });
      await audit.record({
        type: 'role.created',
        ...actorFields(actor),
        subject: valid.name,
        outcome: 'success',
        details: { permissions: permissions.map(permissionText), default: valid.default },
      });
      return view(await find(valid.name));
    },

    async list(): Promise<RoleView[]> {
      const rows = await prisma.role.findMany({ include: { permissions: true }, orderBy: { name: 'asc' } });
      return rows.map(view);
    },

    async show(name: string): Promise<RoleView & { users: number; clients: number }> {
      const row = await find(name);
      const [users, clients] = await Promise.all([
        prisma.userRole.count({ where: { roleId: row.id } }),
        prisma.clientRole.count({ where: { roleId: row.id } }),
      ]);
      return { ...view(row), users, clients };
    },

    /**
     * Changes a role's description, permissions (a list replaces the one before) or default
     * mark. Its holders' next tokens carry the new permissions; a refresh after a permission went
     * gets the narrower scope.
     */
    async update(name: string, input: RoleUpdateInput, actor: Actor): Promise<RoleView> {
      const valid = parseInput(roleUpdateSchema, input);
      const row = await find(name);
      const permissions = valid.permissions === undefined ? undefined : await readPermissions(prisma, valid.permissions);
      await prisma.$transaction(async (tx) => {
        await tx.role.update({
          where: { id: row.id },
          data: {
            ...(input.description !== undefined ? { description: valid.description ?? null } : {}),
            ...(valid.default !== undefined ? { isDefault: valid.default } : {}),
          },
        });
        if (permissions) await writePermissions(tx as Prisma, row.id, permissions);
      });
      held.clear();
      const after = view(await find(name));
      await audit.record({
        type: 'role.updated',
        ...actorFields(actor),
        subject: name,
        outcome: 'success',
        details: { permissions: after.permissions, default: after.default },
      });
      return after;
    },

    /** Deletes a role: its holders lose what it gave at their next token. */
    async delete(name: string, actor: Actor): Promise<void> {
      const row = await find(name);
      await prisma.role.delete({ where: { id: row.id } });
      held.clear();
      await audit.record({ type: 'role.deleted', ...actorFields(actor), subject: name, outcome: 'success' });
    },

    /** Gives a role to a person or a client; giving one already held changes nothing and records nothing. */
    async assign(name: string, input: RoleAssignmentInput, actor: Actor): Promise<{ assigned: boolean }> {
      const holder = holderOf(input);
      const row = await find(name);
      await checkHolder(holder);
      const where = holder.type === 'user' ? { userId: holder.id, roleId: row.id } : { clientId: holder.id, roleId: row.id };
      const existing =
        holder.type === 'user'
          ? await prisma.userRole.findUnique({ where: { userId_roleId: { userId: holder.id, roleId: row.id } } })
          : await prisma.clientRole.findUnique({ where: { clientId_roleId: { clientId: holder.id, roleId: row.id } } });
      if (existing) return { assigned: false };
      try {
        if (holder.type === 'user') await prisma.userRole.create({ data: where as { userId: string; roleId: string } });
        else await prisma.clientRole.create({ data: where as { clientId: string; roleId: string } });
      } catch (error) {
        // Two assignments at once: the other made it.
        if (await (holder.type === 'user' ? prisma.userRole.count({ where }) : prisma.clientRole.count({ where })))
          return { assigned: false };
        throw error;
      }
      held.delete(holderKey(holder));
      await audit.record({
        type: 'role.assigned',
        ...actorFields(actor),
        subject: name,
        outcome: 'success',
        details: holder.type === 'user' ? { user_id: holder.id } : { client_id: holder.id },
      });
      return { assigned: true };
    },

    /** Takes a role away; the holder's next token (a refresh included) no longer carries what it gave. */
    async unassign(name: string, input: RoleAssignmentInput, actor: Actor): Promise<{ unassigned: boolean }> {
      const holder = holderOf(input);
      const row = await find(name);
      await checkHolder(holder);
      const { count } =
        holder.type === 'user'
          ? await prisma.userRole.deleteMany({ where: { userId: holder.id, roleId: row.id } })
          : await prisma.clientRole.deleteMany({ where: { clientId: holder.id, roleId: row.id } });
      held.delete(holderKey(holder));
      if (count === 0) return { unassigned: false };
      await audit.record({
        type: 'role.unassigned',
        ...actorFields(actor),
        subject: name,
        outcome: 'success',
        details: holder.type === 'user' ? { user_id: holder.id } : { client_id: holder.id },
      });
      return { unassigned: true };
    },

    /** The roles a person or client holds, by name (what `user show` and the admin API list). */
    async namesOf(holder: Holder): Promise<string[]> {
      return (await service.heldBy(holder)).map((role) => role.name);
    },

    /** What a person or client holds, cached for a second: read on every token for an API with rbac. */
    async heldBy(holder: Holder): Promise<HeldRole[]> {
      const key = holderKey(holder);
      const cached = held.get(key);
      if (cached) return cached;
      const rows =
        holder.type === 'user'
          ? await prisma.userRole.findMany({ where: { userId: holder.id }, include: { role: { include: { permissions: true } } } })
          : await prisma.clientRole.findMany({ where: { clientId: holder.id }, include: { role: { include: { permissions: true } } } });
      const roles = rows
        .map((row) => ({ name: row.role.name, permissions: row.role.permissions.map(({ audience, scope }) => ({ audience, scope })) }))
        .sort((one, other) => one.name.localeCompare(other.name));
      held.set(key, roles);
      return roles;
    },

    /**
     * The scopes of an API the holder's roles give, or undefined when the API does not decide by
     * roles (no rbac): what every grant and key check on such an API narrows to.
     */
    async permittedOn(resource: { audience: string; rbac: boolean }, holder: Holder): Promise<Set<string> | undefined> {
      if (!resource.rbac) return undefined;
      return scopesOn(
        (await service.heldBy(holder)).flatMap((role) => role.permissions),
        resource.audience,
      );
    },

    /** Every role, described whole: what `portcullis export` writes. */
    async definitions(): Promise<RoleDefinition[]> {
      return (await service.list()).map((role) => ({
        name: role.name,
        ...(role.description ? { description: role.description } : {}),
        permissions: role.permissions,
        default: role.default,
      }));
    },
  };
  return service;
}

export type RoleService = ReturnType<typeof createRoleService>;
