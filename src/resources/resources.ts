// API resources (resource servers): the audiences Portcullis issues JWT access tokens for, the
// scopes each accepts, and how long its tokens live (RFC 8707, RFC 9068).
import crypto from 'node:crypto';
import type { AuditLog } from '../audit/index.ts';
import { createTtlCache } from '../cache/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { hasControlCharacters, isStorableText, normalizeScope, validateAudience } from '../oauth/index.ts';

export const DEFAULT_ACCESS_TOKEN_TTL = 15 * 60;
export const MIN_ACCESS_TOKEN_TTL = 60;
/** RFC 9700 section 2.2 asks for short-lived access tokens; an hour is the most Portcullis issues. */
export const MAX_ACCESS_TOKEN_TTL = 60 * 60;

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
  access_token_ttl: number;
  created_at: string;
}

export interface CreateResourceInput {
  audience: string;
  scope: string;
  ttl?: number;
  name?: string;
  personalKeyScope?: string;
}

function summarize(row: {
  id: string;
  audience: string;
  name: string | null;
  scope: string;
  personalKeyScope: string;
  accessTokenTtl: number;
  createdAt: Date;
}): ApiResourceSummary {
  return {
    id: row.id,
    audience: row.audience,
    name: row.name,
    scope: row.scope,
    personal_key_scope: row.personalKeyScope,
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
  /** APIs people may never make keys for, whatever is asked (Portcullis's own admin API). */
  withoutPersonalKeys?: (audience: string) => boolean;
}) {
  // Looked up on every token request for an API; other instances see a change within a second.
  const cache = createTtlCache<ApiResourceSummary | null>(1000);

  /** The personal-key scopes, normalised: a subset of what the API accepts. */
  function personalKeyScopeOf(audience: string, scope: string, requested: string | undefined): string {
    const personal = normalizeScope(requested, 'personal_key_scope');
    if (!personal) return '';
    if (withoutPersonalKeys(audience)) throw new InputError('personal_key_scope', 'people may not make keys for this API');
    const accepted = new Set(scope.split(' '));
    const outside = personal.split(' ').find((item) => !accepted.has(item));
    if (outside !== undefined) throw new InputError('personal_key_scope', `${outside} is not a scope this API accepts`);
    return personal;
  }

  return {
    async create(input: CreateResourceInput): Promise<ApiResourceSummary> {
      const audience = validateAudience(input.audience ?? '');
      const scope = normalizeScope(input.scope);
      if (input.name !== undefined && (input.name.length > 200 || hasControlCharacters(input.name))) {
        throw new InputError('name', 'must be at most 200 characters, without control characters');
      }
      const ttl = input.ttl ?? DEFAULT_ACCESS_TOKEN_TTL;
      if (!Number.isInteger(ttl) || ttl < MIN_ACCESS_TOKEN_TTL || ttl > MAX_ACCESS_TOKEN_TTL) {
        throw new InputError('ttl', `must be a whole number of seconds from ${MIN_ACCESS_TOKEN_TTL} to ${MAX_ACCESS_TOKEN_TTL}`);
      }
      const personalKeyScope = personalKeyScopeOf(audience, scope, input.personalKeyScope);
      if (await prisma.apiResource.findUnique({ where: { audience }, select: { id: true } })) {
        throw new ConflictError(`a resource with audience ${audience} already exists`);
      }
      const row = await prisma.apiResource.create({
        data: { id: crypto.randomUUID(), audience, scope, personalKeyScope, accessTokenTtl: ttl, name: input.name?.trim() || null },
      });
      cache.delete(audience);
      await audit.record({
        type: 'resource.created',
        actorType: 'admin',
        subject: audience,
        outcome: 'success',
        details: { scope, personal_key_scope: personalKeyScope },
      });
      return summarize(row);
    },

    /**
     * Changes which scopes people may put on keys of their own for an API, found by id or
     * audience. Keys already made keep their scopes until they expire or are revoked.
     */
    async update(selector: { id?: string; audience?: string }, changes: { personalKeyScope: string }): Promise<ApiResourceSummary> {
      const where = selector.id !== undefined ? { id: selector.id } : { audience: selector.audience ?? '' };
      const value = where.id ?? where.audience;
      const row = value && isStorableText(value) ? await prisma.apiResource.findUnique({ where }) : null;
      if (!row) throw new NotFoundError(`resource ${value}`);
      const personalKeyScope = personalKeyScopeOf(row.audience, row.scope, changes.personalKeyScope);
      const updated = await prisma.apiResource.update({ where: { id: row.id }, data: { personalKeyScope } });
      cache.delete(row.audience);
      await audit.record({
        type: 'resource.updated',
        actorType: 'admin',
        subject: row.audience,
        outcome: 'success',
        details: { personal_key_scope: personalKeyScope },
      });
      return summarize(updated);
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
