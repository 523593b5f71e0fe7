// Organizations: tenants of the apps that sell to teams. Every organization offers the same
// roles (the template, made once by the operator), whose permissions are scopes of registered
// APIs; a member holds some of them in that organization. An app asks for an organization's
// token with `resource=urn:portcullis:organization:ID` (src/oidc/organizations.ts); what the
// person may get there is read here, cached for a second like roles. Invitations are mailed
// links (keyed hashes at rest) that a signed-in person with the invited address accepts once.
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { createTtlCache } from '../cache/index.ts';
import { keyedHash, randomSecret } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError, PortcullisError } from '../errors/index.ts';
import { composeMail, type Outbox } from '../mail/index.ts';
import { isStorableText, parseInput } from '../oauth/index.ts';
import type { Views } from '../templates/index.ts';
import { permissionText, readPermissions, sortedPermissions, type Permission } from './permissions.ts';
import {
  invitationCreateSchema,
  memberAddSchema,
  memberRolesSchema,
  organizationCreateSchema,
  organizationRoleCreateSchema,
  organizationRoleUpdateSchema,
  organizationUpdateSchema,
  type InvitationCreateInput,
  type MemberAddInput,
  type MemberRolesInput,
  type OrganizationCreateInput,
  type OrganizationRoleCreateInput,
  type OrganizationRoleUpdateInput,
  type OrganizationUpdateInput,
} from './schema.ts';

/** The resource indicator of an organization's tokens: this, then the organization's id. */
export const ORGANIZATION_RESOURCE_PREFIX = 'urn:portcullis:organization:';
/** The resource indicator that lets the person pick the organization on the consent page. */
export const ORGANIZATION_PICK_RESOURCE = 'urn:portcullis:organization';
/** The scope that puts a person's organizations in the ID token (`organizations`, `organization_roles`). */
export const ORGANIZATIONS_SCOPE = 'urn:portcullis:scope:organizations';

/** The organization an indicator names, or undefined when it names none. */
export function organizationOfResource(indicator: string): string | undefined {
  if (!indicator.startsWith(ORGANIZATION_RESOURCE_PREFIX)) return undefined;
  const id = indicator.slice(ORGANIZATION_RESOURCE_PREFIX.length);
  return id && isStorableText(id) && !/[\s/?#]/.test(id) ? id : undefined;
}

export interface OrganizationView {
  id: string;
  name: string;
  description: string | null;
  created_by: string | null;
  created_at: string;
  /** The resource indicator an app names to get a token for this organization. */
  resource: string;
}

export interface OrganizationRoleView {
  id: string;
  name: string;
  description: string | null;
  manage_keys: boolean;
  permissions: string[];
  created_at: string;
}

export interface OrganizationRoleDefinition {
  name: string;
  description?: string;
  permissions: string[];
  manage_keys: boolean;
}

export interface MemberView {
  user_id: string;
  email: string | null;
  roles: string[];
  joined_at: string;
}

export interface InvitationView {
  id: string;
  organization_id: string;
  email: string;
  roles: string[];
  expires_at: string;
  accepted_at: string | null;
  revoked_at: string | null;
  created_at: string;
}

/** What a member holds in one organization (cached): what their organization tokens may carry. */
export interface Membership {
  organizationId: string;
  roles: string[];
  permissions: Permission[];
  manageKeys: boolean;
}

/** One of a person's organizations, as the ID token, the consent page and the account page show it. */
export interface MembershipSummary {
  id: string;
  name: string;
  roles: string[];
  manage_keys: boolean;
}

export type InvitationCheck =
  | { ok: true; invitation: { id: string; organizationId: string; organizationName: string; email: string; roles: string[] } }
  | { ok: false; reason: 'unknown' | 'used' | 'expired' };

const orgView = (row: {
  id: string;
  name: string;
  description: string | null;
  createdBy: string | null;
  createdAt: Date;
}): OrganizationView => ({
  id: row.id,
  name: row.name,
  description: row.description,
  created_by: row.createdBy,
  created_at: row.createdAt.toISOString(),
  resource: `${ORGANIZATION_RESOURCE_PREFIX}${row.id}`,
});

type OrgRoleRow = {
  id: string;
  name: string;
  description: string | null;
  manageKeys: boolean;
  createdAt: Date;
  permissions: Permission[];
};
const orgRoleView = (row: OrgRoleRow): OrganizationRoleView => ({
  id: row.id,
  name: row.name,
  description: row.description,
  manage_keys: row.manageKeys,
  permissions: sortedPermissions(row.permissions).map(permissionText),
  created_at: row.createdAt.toISOString(),
});

const invitationView = (row: {
  id: string;
  organizationId: string;
  email: string;
  roles: string;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
}): InvitationView => ({
  id: row.id,
  organization_id: row.organizationId,
  email: row.email,
  roles: row.roles.split(' ').filter(Boolean),
  expires_at: row.expiresAt.toISOString(),
  accepted_at: row.acceptedAt?.toISOString() ?? null,
  revoked_at: row.revokedAt?.toISOString() ?? null,
  created_at: row.createdAt.toISOString(),
});

/** Who may make organizations: administrators only, or people too (ORGANIZATION_CREATION). */
export type OrganizationCreation = 'admins' | 'people';

export function createOrganizationService({
  prisma,
  audit,
  pepper,
  issuer,
  outbox,
  views,
  creation = 'admins',
}: {
  prisma: Prisma;
  audit: AuditLog;
  pepper: string;
  issuer: string;
  outbox: Outbox;
  views: Views;
  creation?: OrganizationCreation;
}) {
  // userId → organizationId → membership; null: not a member. A second, like roles.
  const memberships = createTtlCache<Map<string, Membership>>(1000);
  const invitationHash = (token: string) => keyedHash(pepper, `organization-invitation:${token}`);

  async function find(id: string) {
    const row = isStorableText(id) ? await prisma.organization.findUnique({ where: { id } }) : null;
    if (!row) throw new NotFoundError(`organization ${id}`);
    return row;
  }

  async function findRole(name: string): Promise<OrgRoleRow> {
    const row = isStorableText(name) ? await prisma.organizationRole.findUnique({ where: { name }, include: { permissions: true } }) : null;
    if (!row) throw new NotFoundError(`organization role ${name}`);
    return row;
  }

  /** The template roles named, each must exist (the field and place named otherwise). */
  async function rolesNamed(names: readonly string[], field = 'roles'): Promise<{ id: string; name: string }[]> {
    const unique = [...new Set(names)];
    if (unique.length === 0) return [];
    const rows = await prisma.organizationRole.findMany({ where: { name: { in: unique } }, select: { id: true, name: true } });
    const missing = unique.findIndex((name) => !rows.some((row) => row.name === name));
    if (missing >= 0)
      throw new InputError(`${field}[${names.indexOf(unique[missing]!)}]`, `${unique[missing]} is not an organization role`);
    return rows.sort((one, other) => one.name.localeCompare(other.name));
  }

  async function writeRolePermissions(tx: Prisma, roleId: string, permissions: Permission[]) {
    await tx.organizationRolePermission.deleteMany({ where: { roleId } });
    if (permissions.length) {
      await tx.organizationRolePermission.createMany({ data: permissions.map((permission) => ({ roleId, ...permission })) });
    }
  }

  async function checkUser(userId: string, field = 'user_id') {
    const user = isStorableText(userId) ? await prisma.user.findUnique({ where: { id: userId }, select: { id: true, email: true } }) : null;
    if (!user) throw new InputError(field, `no user has the id ${userId}`);
    return user;
  }

  /** Writes a member's roles anew in `tx` (the member exists). */
  async function writeMemberRoles(tx: Prisma, organizationId: string, userId: string, roleIds: string[]) {
    await tx.organizationMemberRole.deleteMany({ where: { organizationId, userId } });
    if (roleIds.length) {
      await tx.organizationMemberRole.createMany({ data: roleIds.map((roleId) => ({ organizationId, userId, roleId })) });
    }
  }

  /** Every organization a person belongs to, with what they hold in each (cached for a second). */
  async function membershipsOf(userId: string): Promise<Map<string, Membership>> {
    const cached = memberships.get(userId);
    if (cached) return cached;
    const rows = await prisma.organizationMember.findMany({
      where: { userId },
      include: { roles: { include: { role: { include: { permissions: true } } } } },
    });
    const map = new Map<string, Membership>(
      rows.map((row) => [
        row.organizationId,
        {
          organizationId: row.organizationId,
          roles: row.roles.map((held) => held.role.name).sort(),
          permissions: row.roles.flatMap((held) => held.role.permissions.map(({ audience, scope }) => ({ audience, scope }))),
          manageKeys: row.roles.some((held) => held.role.manageKeys),
        },
      ]),
    );
    memberships.set(userId, map);
    return map;
  }

  const service = {
    creation,

    // --- organizations -------------------------------------------------------------------------
    /** Makes an organization; a person making one (ORGANIZATION_CREATION=people) becomes its member with `ownerRoles`. */
    async create(input: OrganizationCreateInput, actor: Actor, ownerRoles: readonly string[] = []): Promise<OrganizationView> {
      const valid = parseInput(organizationCreateSchema, input);
      if (actor.type === 'user' && creation !== 'people') {
        throw new PortcullisError('forbidden', 403, 'only administrators make organizations here (ORGANIZATION_CREATION=admins)');
      }
      const roles = actor.type === 'user' ? await rolesNamed(ownerRoles) : [];
      const id = crypto.randomUUID();
      const row = await prisma.$transaction(async (tx) => {
        const made = await tx.organization.create({
          data: { id, name: valid.name, description: valid.description ?? null, createdBy: actor.type === 'user' ? actor.id : null },
        });
        if (actor.type === 'user') {
          await tx.organizationMember.create({ data: { organizationId: id, userId: actor.id } });
          await writeMemberRoles(
            tx as Prisma,
            id,
            actor.id,
            roles.map((role) => role.id),
          );
        }
        return made;
      });
      if (actor.type === 'user') memberships.delete(actor.id);
      await audit.record({
        type: 'organization.created',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
        details: { name: valid.name },
      });
      return orgView(row);
    },

    async list(): Promise<OrganizationView[]> {
      return (await prisma.organization.findMany({ orderBy: { createdAt: 'asc' } })).map(orgView);
    },

    async show(id: string): Promise<OrganizationView & { members: number }> {
      const row = await find(id);
      return { ...orgView(row), members: await prisma.organizationMember.count({ where: { organizationId: id } }) };
    },

    /** The organization, or undefined (a token request naming it). */
    async findById(id: string): Promise<OrganizationView | undefined> {
      const row = isStorableText(id) ? await prisma.organization.findUnique({ where: { id } }) : null;
      return row ? orgView(row) : undefined;
    },

    async update(id: string, input: OrganizationUpdateInput, actor: Actor): Promise<OrganizationView> {
      const valid = parseInput(organizationUpdateSchema, input);
      await find(id);
      const row = await prisma.organization.update({
        where: { id },
        data: {
          ...(valid.name !== undefined ? { name: valid.name } : {}),
          ...(input.description !== undefined ? { description: valid.description ?? null } : {}),
        },
      });
      await audit.record({
        type: 'organization.updated',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
        details: { name: row.name },
      });
      return orgView(row);
    },

    /**
     * Deletes an organization with its members and invitations. Refused while API keys it owns
     * are live or clients belong to it: they would be left owned by nothing.
     */
    async delete(id: string, actor: Actor): Promise<void> {
      await find(id);
      const now = new Date();
      const keys = await prisma.apiKey.count({
        where: { organizationId: id, revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
      });
      if (keys) throw new ConflictError(`${keys} API key(s) of this organization are not revoked; revoke them first`);
      const clients = await prisma.client.count({ where: { organizationId: id } });
      if (clients) throw new ConflictError(`${clients} client(s) belong to this organization; delete or move them first`);
      await prisma.organization.delete({ where: { id } });
      memberships.clear();
      await audit.record({ type: 'organization.deleted', ...actorFields(actor), subject: id, outcome: 'success' });
    },

    // --- the template's roles ------------------------------------------------------------------
    async createRole(input: OrganizationRoleCreateInput, actor: Actor): Promise<OrganizationRoleView> {
      const valid = parseInput(organizationRoleCreateSchema, input);
      const permissions = await readPermissions(prisma, valid.permissions);
      if (await prisma.organizationRole.findUnique({ where: { name: valid.name }, select: { id: true } })) {
        throw new ConflictError(`an organization role named ${valid.name} already exists`);
      }
      const id = crypto.randomUUID();
      await prisma.$transaction(async (tx) => {
        await tx.organizationRole.create({
          data: { id, name: valid.name, description: valid.description ?? null, manageKeys: valid.manage_keys },
        });
        await writeRolePermissions(tx as Prisma, id, permissions);
      });
      await audit.record({
        type: 'organization_role.created',
        ...actorFields(actor),
        subject: valid.name,
        outcome: 'success',
        details: { permissions: permissions.map(permissionText), manage_keys: valid.manage_keys },
      });
      return orgRoleView(await findRole(valid.name));
    },

    async listRoles(): Promise<OrganizationRoleView[]> {
      const rows = await prisma.organizationRole.findMany({ include: { permissions: true }, orderBy: { name: 'asc' } });
      return rows.map(orgRoleView);
    },

    /** Every scope some role of the template gives, on any API (what an organization token could carry at most). */
    async templateScopes(): Promise<string[]> {
      const rows = await prisma.organizationRolePermission.findMany({ select: { scope: true }, distinct: ['scope'] });
      return rows.map((row) => row.scope);
    },

    async showRole(name: string): Promise<OrganizationRoleView> {
      return orgRoleView(await findRole(name));
    },

    async updateRole(name: string, input: OrganizationRoleUpdateInput, actor: Actor): Promise<OrganizationRoleView> {
      const valid = parseInput(organizationRoleUpdateSchema, input);
      const row = await findRole(name);
      const permissions = valid.permissions === undefined ? undefined : await readPermissions(prisma, valid.permissions);
      await prisma.$transaction(async (tx) => {
        await tx.organizationRole.update({
          where: { id: row.id },
          data: {
            ...(input.description !== undefined ? { description: valid.description ?? null } : {}),
            ...(valid.manage_keys !== undefined ? { manageKeys: valid.manage_keys } : {}),
          },
        });
        if (permissions) await writeRolePermissions(tx as Prisma, row.id, permissions);
      });
      memberships.clear();
      const after = orgRoleView(await findRole(name));
      await audit.record({
        type: 'organization_role.updated',
        ...actorFields(actor),
        subject: name,
        outcome: 'success',
        details: { permissions: after.permissions, manage_keys: after.manage_keys },
      });
      return after;
    },

    async deleteRole(name: string, actor: Actor): Promise<void> {
      const row = await findRole(name);
      await prisma.organizationRole.delete({ where: { id: row.id } });
      memberships.clear();
      await audit.record({ type: 'organization_role.deleted', ...actorFields(actor), subject: name, outcome: 'success' });
    },

    /** The template, described whole: what `portcullis export` writes. */
    async roleDefinitions(): Promise<OrganizationRoleDefinition[]> {
      return (await service.listRoles()).map((role) => ({
        name: role.name,
        ...(role.description ? { description: role.description } : {}),
        permissions: role.permissions,
        manage_keys: role.manage_keys,
      }));
    },

    // --- members -------------------------------------------------------------------------------
    /** Adds a person with roles of the template; a member already there keeps theirs (409). */
    async addMember(organizationId: string, input: MemberAddInput, actor: Actor): Promise<MemberView> {
      const valid = parseInput(memberAddSchema, input);
      await find(organizationId);
      const user = await checkUser(valid.user_id);
      const roles = await rolesNamed(valid.roles);
      const existing = await prisma.organizationMember.findUnique({
        where: { organizationId_userId: { organizationId, userId: user.id } },
      });
      if (existing) throw new ConflictError(`user ${user.id} is already a member; change their roles instead`);
      await prisma.$transaction(async (tx) => {
        await tx.organizationMember.create({ data: { organizationId, userId: user.id } });
        await writeMemberRoles(
          tx as Prisma,
          organizationId,
          user.id,
          roles.map((role) => role.id),
        );
      });
      memberships.delete(user.id);
      await audit.record({
        type: 'organization.member_added',
        ...actorFields(actor),
        subject: organizationId,
        outcome: 'success',
        details: { user_id: user.id, roles: roles.map((role) => role.name) },
      });
      return (await service.members(organizationId)).find((member) => member.user_id === user.id)!;
    },

    /** Gives a member these roles (and only these). */
    async setMemberRoles(organizationId: string, userId: string, input: MemberRolesInput, actor: Actor): Promise<MemberView> {
      const valid = parseInput(memberRolesSchema, input);
      await find(organizationId);
      const member = isStorableText(userId)
        ? await prisma.organizationMember.findUnique({ where: { organizationId_userId: { organizationId, userId } } })
        : null;
      if (!member) throw new NotFoundError(`member ${userId} of organization ${organizationId}`);
      const roles = await rolesNamed(valid.roles);
      await prisma.$transaction((tx) =>
        writeMemberRoles(
          tx as Prisma,
          organizationId,
          userId,
          roles.map((role) => role.id),
        ),
      );
      memberships.delete(userId);
      await audit.record({
        type: 'organization.member_roles_changed',
        ...actorFields(actor),
        subject: organizationId,
        outcome: 'success',
        details: { user_id: userId, roles: roles.map((role) => role.name) },
      });
      return (await service.members(organizationId)).find((entry) => entry.user_id === userId)!;
    },

    /**
     * Removes a member (an administrator, or the person leaving: actor = them). Their organization
     * tokens end at their next refresh (invalid_target); access tokens already issued live out
     * their minutes.
     */
    async removeMember(organizationId: string, userId: string, actor: Actor): Promise<void> {
      await find(organizationId);
      const { count } = isStorableText(userId)
        ? await prisma.organizationMember.deleteMany({ where: { organizationId, userId } })
        : { count: 0 };
      if (count === 0) throw new NotFoundError(`member ${userId} of organization ${organizationId}`);
      memberships.delete(userId);
      await audit.record({
        type: actor.type === 'user' && actor.id === userId ? 'organization.member_left' : 'organization.member_removed',
        ...actorFields(actor),
        subject: organizationId,
        outcome: 'success',
        details: { user_id: userId },
      });
    },

    async members(organizationId: string): Promise<MemberView[]> {
      await find(organizationId);
      const rows = await prisma.organizationMember.findMany({
        where: { organizationId },
        include: { roles: { include: { role: { select: { name: true } } } } },
        orderBy: { createdAt: 'asc' },
      });
      const users = await prisma.user.findMany({ where: { id: { in: rows.map((row) => row.userId) } }, select: { id: true, email: true } });
      const emails = new Map(users.map((user) => [user.id, user.email]));
      return rows.map((row) => ({
        user_id: row.userId,
        email: emails.get(row.userId) ?? null,
        roles: row.roles.map((held) => held.role.name).sort(),
        joined_at: row.createdAt.toISOString(),
      }));
    },

    /** What a person holds in one organization, or undefined when they are not a member (cached for a second). */
    async membership(userId: string, organizationId: string): Promise<Membership | undefined> {
      return (await membershipsOf(userId)).get(organizationId);
    },

    /** A person's organizations, by name (the ID token's claims, the consent page, the account page). */
    async organizationsOf(userId: string): Promise<MembershipSummary[]> {
      const held = await membershipsOf(userId);
      if (held.size === 0) return [];
      const rows = await prisma.organization.findMany({ where: { id: { in: [...held.keys()] } }, orderBy: { name: 'asc' } });
      return rows.map((row) => ({ id: row.id, name: row.name, roles: held.get(row.id)!.roles, manage_keys: held.get(row.id)!.manageKeys }));
    },

    // --- invitations ---------------------------------------------------------------------------
    /**
     * Mails an invitation to join (the link through the outbox, in this transaction). An
     * administrator or a member whose roles manage the organization may invite. The link is shown
     * to nobody else; only its keyed hash is kept.
     */
    async invite(organizationId: string, input: InvitationCreateInput, actor: Actor, lang = 'en'): Promise<InvitationView> {
      const valid = parseInput(invitationCreateSchema, input);
      const organization = await find(organizationId);
      if (actor.type === 'user' && !(await service.membership(actor.id, organizationId))?.manageKeys) {
        throw new NotFoundError(`organization ${organizationId}`);
      }
      const roles = await rolesNamed(valid.roles);
      const token = randomSecret(32);
      const id = crypto.randomUUID();
      const expiresAt = new Date(Date.now() + valid.expires_in_seconds * 1000);
      const row = await prisma.$transaction(async (tx) => {
        const made = await tx.organizationInvitation.create({
          data: {
            id,
            organizationId,
            email: valid.email,
            roles: roles.map((role) => role.name).join(' '),
            tokenHash: invitationHash(token),
            invitedBy: actor.type === 'system' ? null : (actor.id ?? null),
            expiresAt,
          },
        });
        const url = `${issuer.replace(/\/$/, '')}/organization-invitation?token=${encodeURIComponent(token)}`;
        const mail = composeMail(views, {
          template: 'organization-invitation',
          to: valid.email,
          lang,
          data: { organization: organization.name, url, expiresAt, product: views.brand.name },
        });
        await outbox.enqueue(tx as never, mail);
        return made;
      });
      await audit.record({
        type: 'organization.invitation_sent',
        ...actorFields(actor),
        subject: organizationId,
        outcome: 'success',
        details: { invitation: id, roles: roles.map((role) => role.name) },
      });
      return invitationView(row);
    },

    async invitations(organizationId: string): Promise<InvitationView[]> {
      await find(organizationId);
      const rows = await prisma.organizationInvitation.findMany({ where: { organizationId }, orderBy: { createdAt: 'desc' } });
      return rows.map(invitationView);
    },

    async revokeInvitation(organizationId: string, invitationId: string, actor: Actor): Promise<void> {
      const { count } = isStorableText(invitationId)
        ? await prisma.organizationInvitation.updateMany({
            where: { id: invitationId, organizationId, acceptedAt: null, revokedAt: null },
            data: { revokedAt: new Date() },
          })
        : { count: 0 };
      if (count === 0) throw new NotFoundError(`open invitation ${invitationId} of organization ${organizationId}`);
      await audit.record({
        type: 'organization.invitation_revoked',
        ...actorFields(actor),
        subject: organizationId,
        outcome: 'success',
        details: { invitation: invitationId },
      });
    },

    /** What an invitation link is: open (with its organization), used, expired, or not ours. */
    async checkInvitation(token: unknown): Promise<InvitationCheck> {
      if (typeof token !== 'string' || token.length < 20 || token.length > 200) return { ok: false, reason: 'unknown' };
      const row = await prisma.organizationInvitation.findUnique({
        where: { tokenHash: invitationHash(token) },
        include: { organization: { select: { name: true } } },
      });
      if (!row || row.revokedAt) return { ok: false, reason: 'unknown' };
      if (row.acceptedAt) return { ok: false, reason: 'used' };
      if (row.expiresAt.getTime() <= Date.now()) return { ok: false, reason: 'expired' };
      return {
        ok: true,
        invitation: {
          id: row.id,
          organizationId: row.organizationId,
          organizationName: row.organization.name,
          email: row.email,
          roles: row.roles.split(' ').filter(Boolean),
        },
      };
    },

    /**
     * Accepts an invitation for the signed-in person, whose address must be the invited one:
     * once (one conditional update), before it expires. A member already keeps their
     * membership and gains the invitation's roles.
     */
    async acceptInvitation(token: unknown, person: { id: string; email: string }, actor: Actor): Promise<InvitationCheck> {
      const checked = await service.checkInvitation(token);
      if (!checked.ok) return checked;
      const { invitation } = checked;
      if (invitation.email !== person.email.toLowerCase()) {
        throw new InputError('email', 'this invitation was sent to another address; sign in with that one');
      }
      const roles = await prisma.organizationRole.findMany({ where: { name: { in: invitation.roles } }, select: { id: true } });
      const accepted = await prisma.$transaction(async (tx) => {
        const { count } = await tx.organizationInvitation.updateMany({
          where: { id: invitation.id, acceptedAt: null, revokedAt: null, expiresAt: { gt: new Date() } },
          data: { acceptedAt: new Date(), acceptedBy: person.id },
        });
        if (count === 0) return false;
        const key = { organizationId_userId: { organizationId: invitation.organizationId, userId: person.id } };
        const member = await tx.organizationMember.findUnique({ where: key, include: { roles: true } });
        if (!member) await tx.organizationMember.create({ data: { organizationId: invitation.organizationId, userId: person.id } });
        const ids = [...new Set([...(member?.roles.map((held) => held.roleId) ?? []), ...roles.map((role) => role.id)])];
        await writeMemberRoles(tx as Prisma, invitation.organizationId, person.id, ids);
        return true;
      });
      if (!accepted) return { ok: false, reason: 'used' };
      memberships.delete(person.id);
      await audit.record({
        type: 'organization.invitation_accepted',
        ...actorFields(actor),
        subject: invitation.organizationId,
        outcome: 'success',
        details: { invitation: invitation.id, user_id: person.id, roles: invitation.roles },
      });
      return checked;
    },
  };
  return service;
}

export type OrganizationService = ReturnType<typeof createOrganizationService>;
