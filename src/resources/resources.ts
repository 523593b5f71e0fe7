// API resources (resource servers): the audiences Portcullis issues JWT access tokens for, the
// scopes each accepts, how long its tokens live (RFC 8707, RFC 9068), which scopes people may
// put on API keys of their own, and which clients may exchange a person's token for one (RFC 8693). The shapes and bounds of the inputs are in schema.ts.
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { createTtlCache } from '../cache/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { isStorableText, normalizeScope, parseInput, scopeWords, validateAudience } from '../oauth/index.ts';
import { resourceCreateSchema, resourceUpdateSchema, type ResourceCreateInput, type ResourceUpdateInput } from './schema.ts';

export interface ApiResourceSummary {
  id: string;
  audience: string;
  name: string | null;
  scope: string;
  /**
   * The scopes an administrator made available to people for API keys of their own: never
   * inferred from what a person consented to for an app. Empty: people may not make keys for it.
   */
  personal_key_scope: string;
  /**
   * The clients an administrator allowed to exchange a person's access token for a token for
   * this API (RFC 8693, src/oidc/tokenExchange.ts), sorted. Empty: none may.
   */
  exchange_clients: string[];
  /** Role-based access (src/access): people, clients and keys get only the scopes their roles give. */
  rbac: boolean;
  /** Its access tokens carry a `roles` claim. */
  roles_claim: boolean;
  access_token_ttl: number;
  created_at: string;
}

/** An API people may make keys for, with the scopes they may put on them. */
export type PersonalKeyResource = ApiResourceSummary & { personal_scopes: string[] };

/**
 * An API described whole, in the create input's names: what `portcullis export` writes for it,
 * and what an entry of an applied file becomes once normalised, so that the two compare.
 */
export interface ResourceDefinition {
  audience: string;
  name?: string;
  scope: string;
  ttl: number;
  personal_key_scope: string;
  /** Sorted, without repeats; left out when none may exchange (as `name` is when there is none). */
  exchange_clients?: string[];
  /** Left out when false, as in a file that never mentions them. */
  rbac?: boolean;
  roles_claim?: boolean;
}

/** The personal-key scopes, normalised: a subset of what the API accepts. */
function personalScopeWithin(scope: string, requested: string): string {
  const personal = normalizeScope(requested, 'personal_key_scope');
  const accepted = new Set(scopeWords(scope));
  const outside = scopeWords(personal).find((item) => !accepted.has(item));
  if (outside !== undefined) throw new InputError('personal_key_scope', `${outside} is not a scope this API accepts`);
  return personal;
}

/** The exchanging clients, as stored and compared: each once, sorted, so that a list compares by its members. */
const exchangeClientList = (clients: readonly string[]) => [...new Set(clients)].sort();
/** The column (space-separated client ids) as a list. */
const exchangeClientsOfRow = (column: string) => scopeWords(column);

/** Whether two values of a definition's field are the same (a list by its members, in order). */
const sameValue = (one: unknown, other: unknown) => JSON.stringify(one ?? null) === JSON.stringify(other ?? null);

/**
 * What creating (or replacing) an API with `input` would make, checked by the rules of creation
 * without touching the database (whether people may hold keys for it is the service's check).
 */
export function resourceDefinition(input: ResourceCreateInput): ResourceDefinition {
  const valid = parseInput(resourceCreateSchema, input);
  const scope = normalizeScope(valid.scope);
  const name = valid.name?.trim();
  return {
    audience: validateAudience(valid.audience),
    ...(name ? { name } : {}),
    scope,
    ttl: valid.ttl,
    personal_key_scope: personalScopeWithin(scope, valid.personal_key_scope),
    ...(valid.exchange_clients.length ? { exchange_clients: exchangeClientList(valid.exchange_clients) } : {}),
    ...(valid.rbac ? { rbac: true } : {}),
    ...(valid.roles_claim ? { roles_claim: true } : {}),
  };
}

function definitionOfRow(row: {
  audience: string;
  name: string | null;
  scope: string;
  accessTokenTtl: number;
  personalKeyScope: string;
  exchangeClients: string;
  rbac: boolean;
  rolesClaim: boolean;
}): ResourceDefinition {
  const exchangeClients = exchangeClientsOfRow(row.exchangeClients);
  return {
    audience: row.audience,
    ...(row.name ? { name: row.name } : {}),
    scope: row.scope,
    ttl: row.accessTokenTtl,
    personal_key_scope: row.personalKeyScope,
    ...(exchangeClients.length ? { exchange_clients: exchangeClients } : {}),
    ...(row.rbac ? { rbac: true } : {}),
    ...(row.rolesClaim ? { roles_claim: true } : {}),
  };
}

/** How an update names its API: by id (the admin API's path) or by audience (the CLI). */
export type ResourceSelector = { id: string } | { audience: string };

function summarize(row: {
  id: string;
  audience: string;
  name: string | null;
  scope: string;
  personalKeyScope: string;
  exchangeClients: string;
  rbac: boolean;
  rolesClaim: boolean;
  accessTokenTtl: number;
  createdAt: Date;
}): ApiResourceSummary {
  return {
    id: row.id,
    audience: row.audience,
    name: row.name,
    scope: row.scope,
    personal_key_scope: row.personalKeyScope,
    exchange_clients: exchangeClientsOfRow(row.exchangeClients),
    rbac: row.rbac,
    roles_claim: row.rolesClaim,
    access_token_ttl: row.accessTokenTtl,
    created_at: row.createdAt.toISOString(),
  };
}

export function createResourceService({
  prisma,
  audit,
  withoutPersonalKeys = () => false,
}: {
  prisma: Prisma;
  audit: AuditLog;
  /**
   * APIs people may never make keys for, whatever is asked, and no client may exchange a
   * person's token for (Portcullis's own admin API: its tokens come from admin clients' own
   * credentials, never from a person's).
   */
  withoutPersonalKeys?: (audience: string) => boolean;
}) {
  // Looked up on every token request for an API; other instances see a change within a second.
  const cache = createTtlCache<ApiResourceSummary | null>(1000);

  /** The personal-key scopes, normalised: a subset of what the API accepts. */
  function personalKeyScopeOf(audience: string, scope: string, requested: string): string {
    const personal = normalizeScope(requested, 'personal_key_scope');
    if (!personal) return '';
    if (withoutPersonalKeys(audience)) throw new InputError('personal_key_scope', 'people may not make keys for this API');
    return personalScopeWithin(scope, personal);
  }

  /** The exchanging clients, normalised (each once, sorted); none for Portcullis's own admin API. */
  function exchangeClientsOf(audience: string, requested: readonly string[]): string[] {
    const list = exchangeClientList(requested);
    if (list.length && withoutPersonalKeys(audience)) {
      throw new InputError('exchange_clients', "no client may exchange a person's token for this API");
    }
    return list;
  }

  /** Why the API cannot be deleted now, or undefined: live API keys for it would be left naming nothing. */
  async function deletionBlocker(audience: string): Promise<string | undefined> {
    const now = new Date();
    const keys = await prisma.apiKey.findMany({
      where: { revokedAt: null, OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
      select: { audiences: true },
    });
    const naming = keys.filter((key) => Array.isArray(key.audiences) && key.audiences.includes(audience)).length;
    return naming ? `${naming} API key(s) that are not revoked are for ${audience}; revoke them first` : undefined;
  }

  /**
   * Takes the scopes an API no longer has (all of them when it goes) out of every role and
   * organization role that gave them, in `tx`: a permission never names a scope that is not
   * there. Their holders' next tokens follow (the roles' caches hold a second at most). Returns how
   * many permissions went.
   */
  async function dropPermissions(tx: Prisma, audience: string, scopes?: string[]): Promise<number> {
    if (scopes && scopes.length === 0) return 0;
    const where = { audience, ...(scopes ? { scope: { in: scopes } } : {}) };
    const [roles, organizationRoles] = [
      await tx.rolePermission.deleteMany({ where }),
      await tx.organizationRolePermission.deleteMany({ where }),
    ];
    return roles.count + organizationRoles.count;
  }

  /** The API an update names; a value that cannot be stored names none. */
  async function find(selector: ResourceSelector) {
    const value = 'id' in selector ? selector.id : selector.audience;
    const where = 'id' in selector ? { id: selector.id } : { audience: selector.audience };
    const row = isStorableText(value) ? await prisma.apiResource.findUnique({ where }) : null;
    if (!row) throw new NotFoundError(`resource ${value}`);
    return row;
  }

  return {
    async create(input: ResourceCreateInput, actor: Actor): Promise<ApiResourceSummary> {
      const valid = parseInput(resourceCreateSchema, input);
      const audience = validateAudience(valid.audience);
      const scope = normalizeScope(valid.scope);
      const personalKeyScope = personalKeyScopeOf(audience, scope, valid.personal_key_scope);
      const exchangeClients = exchangeClientsOf(audience, valid.exchange_clients);
      if (await prisma.apiResource.findUnique({ where: { audience }, select: { id: true } })) {
        throw new ConflictError(`a resource with audience ${audience} already exists`);
      }
      const row = await prisma.apiResource.create({
        data: {
          id: crypto.randomUUID(),
          audience,
          scope,
          personalKeyScope,
          exchangeClients: exchangeClients.join(' '),
          rbac: valid.rbac,
          rolesClaim: valid.roles_claim,
          accessTokenTtl: valid.ttl,
          name: valid.name?.trim() || null,
        },
      });
      cache.delete(audience);
      await audit.record({
        type: 'resource.created',
        ...actorFields(actor),
        subject: audience,
        outcome: 'success',
        details: {
          scope,
          personal_key_scope: personalKeyScope,
          ...(exchangeClients.length ? { exchange_clients: exchangeClients } : {}),
          ...(valid.rbac ? { rbac: true } : {}),
          ...(valid.roles_claim ? { roles_claim: true } : {}),
        },
      });
      return summarize(row);
    },

    /**
     * Changes which scopes people may put on keys of their own for an API, which clients may
     * exchange a person's token for it (a list given replaces the one before), or both. Keys
     * already made keep their scopes until they expire or are revoked; tokens already exchanged
     * live out their lifetime.
     */
    async update(selector: ResourceSelector, input: ResourceUpdateInput, actor: Actor): Promise<ApiResourceSummary> {
      const valid = parseInput(resourceUpdateSchema, input);
      if (Object.values(valid).every((value) => value === undefined)) {
        throw new InputError('personal_key_scope', 'is required, unless exchange_clients, rbac or roles_claim is given');
      }
      const row = await find(selector);
      const personalKeyScope =
        valid.personal_key_scope === undefined ? undefined : personalKeyScopeOf(row.audience, row.scope, valid.personal_key_scope);
      const exchangeClients = valid.exchange_clients === undefined ? undefined : exchangeClientsOf(row.audience, valid.exchange_clients);
      const updated = await prisma.apiResource.update({
        where: { id: row.id },
        data: {
          ...(personalKeyScope === undefined ? {} : { personalKeyScope }),
          ...(exchangeClients === undefined ? {} : { exchangeClients: exchangeClients.join(' ') }),
          ...(valid.rbac === undefined ? {} : { rbac: valid.rbac }),
          ...(valid.roles_claim === undefined ? {} : { rolesClaim: valid.roles_claim }),
        },
      });
      cache.delete(row.audience);
      await audit.record({
        type: 'resource.updated',
        ...actorFields(actor),
        subject: row.audience,
        outcome: 'success',
        details: {
          ...(personalKeyScope === undefined ? {} : { personal_key_scope: personalKeyScope }),
          ...(exchangeClients === undefined ? {} : { exchange_clients: exchangeClients }),
          ...(valid.rbac === undefined ? {} : { rbac: valid.rbac }),
          ...(valid.roles_claim === undefined ? {} : { roles_claim: valid.roles_claim }),
        },
      });
      return summarize(updated);
    },

    /** Every API, described whole: what `portcullis export` writes. */
    async definitions(): Promise<ResourceDefinition[]> {
      return (await prisma.apiResource.findMany({ orderBy: { audience: 'asc' } })).map(definitionOfRow);
    },

    /**
     * Gives an API (named by `input.audience`) all of its settings anew: what creation takes,
     * under its rules. Settings that change nothing write and record nothing; otherwise one
     * `resource.updated` names the fields changed. Tokens already issued keep their scopes and
     * lifetime until they expire; keys already made keep their scopes.
     */
    async replace(input: ResourceCreateInput, actor: Actor): Promise<ApiResourceSummary> {
      const next = resourceDefinition(input);
      const row = await find({ audience: next.audience });
      const personalKeyScope = personalKeyScopeOf(next.audience, next.scope, next.personal_key_scope);
      const exchangeClients = exchangeClientsOf(next.audience, next.exchange_clients ?? []);
      const before: Record<string, unknown> = { ...definitionOfRow(row) };
      const after: Record<string, unknown> = { ...next, personal_key_scope: personalKeyScope };
      const fields = [...new Set([...Object.keys(before), ...Object.keys(after)])].filter(
        (field) => !sameValue(before[field], after[field]),
      );
      if (fields.length === 0) return summarize(row);
      const kept = new Set(scopeWords(next.scope));
      const { updated, permissionsRemoved } = await prisma.$transaction(async (tx) => ({
        updated: await tx.apiResource.update({
          where: { id: row.id },
          data: {
            name: next.name ?? null,
            scope: next.scope,
            accessTokenTtl: next.ttl,
            personalKeyScope,
            exchangeClients: exchangeClients.join(' '),
            rbac: next.rbac === true,
            rolesClaim: next.roles_claim === true,
          },
        }),
        permissionsRemoved: await dropPermissions(
          tx as Prisma,
          row.audience,
          scopeWords(row.scope).filter((scope) => !kept.has(scope)),
        ),
      }));
      cache.delete(row.audience);
      await audit.record({
        type: 'resource.updated',
        ...actorFields(actor),
        subject: row.audience,
        outcome: 'success',
        details: {
          fields,
          scope: next.scope,
          personal_key_scope: personalKeyScope,
          ...(fields.includes('exchange_clients') ? { exchange_clients: exchangeClients } : {}),
          ...(permissionsRemoved ? { role_permissions_removed: permissionsRemoved } : {}),
        },
      });
      return summarize(updated);
    },

    deletionBlocker,

    /**
     * Deletes an API: tokens for it are refused from then on (invalid_target). Refused while
     * API keys for it are live, so that no key is left naming nothing.
     */
    async delete(selector: ResourceSelector, actor: Actor): Promise<void> {
      const row = await find(selector);
      const blocker = await deletionBlocker(row.audience);
      if (blocker) throw new ConflictError(blocker);
      const permissionsRemoved = await prisma.$transaction(async (tx) => {
        await tx.apiResource.delete({ where: { id: row.id } });
        return dropPermissions(tx as Prisma, row.audience);
      });
      cache.delete(row.audience);
      await audit.record({
        type: 'resource.deleted',
        ...actorFields(actor),
        subject: row.audience,
        outcome: 'success',
        ...(permissionsRemoved ? { details: { role_permissions_removed: permissionsRemoved } } : {}),
      });
    },

    /** Creates the resource if it is missing (used for Portcullis's own admin API). */
    async ensure(audience: string, scope: string, name: string): Promise<ApiResourceSummary> {
      const existing = await prisma.apiResource.findUnique({ where: { audience } });
      if (existing) return summarize(existing);
      try {
        return summarize(
          await prisma.apiResource.create({ data: { id: crypto.randomUUID(), audience, scope, name, accessTokenTtl: 300 } }),
        );
      } catch {
        return summarize((await prisma.apiResource.findUnique({ where: { audience } }))!);
      }
    },

    async list(): Promise<ApiResourceSummary[]> {
      return (await prisma.apiResource.findMany({ orderBy: { createdAt: 'asc' } })).map(summarize);
    },

    /** The APIs an administrator opened to people's own keys, each with the scopes it offers them. */
    async offeredToPeople(): Promise<PersonalKeyResource[]> {
      const rows = await prisma.apiResource.findMany({ where: { personalKeyScope: { not: '' } }, orderBy: { createdAt: 'asc' } });
      return rows
        .map((row) => ({ ...summarize(row), personal_scopes: scopeWords(row.personalKeyScope) }))
        .filter((resource) => resource.personal_scopes.length > 0);
    },

    async findByAudience(audience: string): Promise<ApiResourceSummary | undefined> {
      if (!isStorableText(audience)) return undefined;
      if (cache.has(audience)) return cache.get(audience) ?? undefined;
      const row = await prisma.apiResource.findUnique({ where: { audience } });
      cache.set(audience, row ? summarize(row) : null);
      return row ? summarize(row) : undefined;
    },
  };
}

export type ResourceService = ReturnType<typeof createResourceService>;
