// API keys: long-lived credentials that identify an application. Shown once; stored only as
// HMAC-SHA256 under the pepper (a 196-bit random key needs no slow hash, and a fast one keeps
// every check cheap) with a short display prefix; scoped to API resources; rate-limited;
// rotated with a grace period; revoked at once. What a new key's settings may be is in schema.ts
// (shapes and bounds) and rules.ts (audiences, owners, people's keys).
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditAggregator, type AuditLog } from '../audit/index.ts';
import { keyedHash } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { isStorableText, parseInput } from '../oauth/index.ts';
import { sourceOf } from '../limits/index.ts';
import type { ResourceService } from '../resources/index.ts';
import { generateApiKey, parseApiKey } from './format.ts';
import { createKeyRules, type KeyOrganizations, type KeySettings, type PermittedScopes, type PersonalKeyDays } from './rules.ts';
import { apiKeyRotateSchema, type ApiKeyCreateInput, type ApiKeyRotateInput } from './schema.ts';

export interface ApiKeySummary {
  id: string;
  name: string;
  display_prefix: string;
  owner: { type: 'user' | 'client'; id: string } | null;
  /** The organization that owns the key (then `owner` is null), or null. */
  organization_id: string | null;
  scope: string;
  audiences: string[];
  rate_limit: string | null;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  use_count: number;
  revoked_at: string | null;
}

export type VerifiedApiKey = ApiKeySummary & { subject: string };
export type Verification = { ok: true; key: VerifiedApiKey } | { ok: false; reason: 'malformed' | 'unknown' | 'revoked' | 'expired' };

type Row = Awaited<ReturnType<Prisma['apiKey']['findUnique']>> & object;

/** How long a verification result may be reused: a revocation reaches every instance within this. */
export const VERIFY_CACHE_MS = 900;
const USAGE_FLUSH_MS = 5_000;
const MAX_CACHED = 10_000;

function summarize(row: Row, expiresAt: Date | null = row.expiresAt): ApiKeySummary {
  return {
    id: row.id,
    name: row.name,
    display_prefix: row.displayPrefix,
    owner: row.ownerUserId ? { type: 'user', id: row.ownerUserId } : row.ownerClientId ? { type: 'client', id: row.ownerClientId } : null,
    organization_id: row.organizationId,
    scope: (row.scopes as string[]).join(' '),
    audiences: row.audiences as string[],
    rate_limit: row.rateLimit,
    created_at: row.createdAt.toISOString(),
    expires_at: expiresAt?.toISOString() ?? null,
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    use_count: row.useCount,
    revoked_at: row.revokedAt?.toISOString() ?? null,
  };
}

export interface ApiKeyServiceOptions {
  prisma: Prisma;
  pepper: string;
  prefix: string;
  audit: AuditLog;
  /** Failed verifications are counted here (per key, or key prefix for unknown keys, and source, per minute), not one row each. */
  auditAggregates: AuditAggregator;
  resources: ResourceService;
  /** Lifetimes of keys owned by people, in days (USER_API_KEY_DEFAULT_DAYS, _MAX_DAYS): they always expire. */
  userKeyDays: PersonalKeyDays;
  /** Organizations, for the keys they own (src/access). */
  organizations?: KeyOrganizations;
  /** What roles give on an API that decides by them (src/access), for people's own keys. */
  permitted?: PermittedScopes;
  /** Told the outcome of every verification (for metrics). */
  onVerify?: (outcome: 'valid' | Exclude<Verification, { ok: true }>['reason']) => void;
}

export function createApiKeyService({
  prisma,
  pepper,
  prefix,
  audit,
  auditAggregates,
  resources,
  userKeyDays,
  organizations,
  permitted,
  onVerify,
}: ApiKeyServiceOptions) {
  const cache = new Map<string, { row: Row | null; ownerDisabled: boolean; at: number }>();
  const usage = new Map<string, { count: number; last: Date }>();

  /**
   * Whether the key's owner still exists and may act: a key never outlives its owner, and a
   * disabled person's keys stop while they are disabled.
   */
  async function ownerIsLive(row: {
    ownerUserId: string | null;
    ownerClientId: string | null;
    organizationId: string | null;
  }): Promise<boolean> {
    if (row.organizationId) return Boolean(await organizations?.exists(row.organizationId));
    if (row.ownerUserId) {
      const user = await prisma.user.findUnique({ where: { id: row.ownerUserId }, select: { disabled: true } });
      return Boolean(user && !user.disabled);
    }
    if (row.ownerClientId) return Boolean(await prisma.client.findUnique({ where: { id: row.ownerClientId }, select: { id: true } }));
    return true;
  }

  /**
   * When a key stops working. A person's key made before people's keys had to expire ends
   * USER_API_KEY_MAX_DAYS after it was made, like any made since.
   */
  const expiryOf = (row: { expiresAt: Date | null; ownerUserId: string | null; createdAt: Date }): Date | null =>
    row.expiresAt ?? (row.ownerUserId ? new Date(row.createdAt.getTime() + userKeyDays.max * 86_400_000) : null);
  const summary = (row: Row) => summarize(row, expiryOf(row));

  const rules = createKeyRules({
    prisma,
    resources,
    userKeyDays,
    ...(organizations ? { organizations } : {}),
    ...(permitted ? { permitted } : {}),
  });

  async function insert(settings: KeySettings, db: Pick<Prisma, 'apiKey'> = prisma, expiresAt?: Date | null) {
    const key = generateApiKey(prefix);
    const row = await db.apiKey.create({
      data: {
        id: crypto.randomUUID(),
        name: settings.name,
        displayPrefix: parseApiKey(key, [prefix])!.display,
        keyHash: keyedHash(pepper, key),
        ownerUserId: settings.ownerUserId,
        ownerClientId: settings.ownerClientId,
        organizationId: settings.organizationId,
        scopes: settings.scopes,
        audiences: settings.audiences,
        rateLimit: settings.rateLimit,
        expiresAt:
          expiresAt !== undefined ? expiresAt : settings.expiresInSeconds ? new Date(Date.now() + settings.expiresInSeconds * 1000) : null,
      },
    });
    return { key, row };
  }

  /** A key by id; a person acting for themselves finds only their own (anyone else's is not found). */
  async function findFor(id: string, actor: Actor): Promise<Row> {
    const row = typeof id === 'string' && /^[0-9a-f-]{36}$/.test(id) ? await prisma.apiKey.findUnique({ where: { id } }) : null;
    // A person finds their own keys, and those of the organizations whose keys their roles manage.
    const theirs =
      actor.type !== 'user' ||
      (row !== null &&
        (row.ownerUserId === actor.id ||
          (row.organizationId !== null && Boolean(await organizations?.managesKeys(actor.id, row.organizationId)))));
    if (!row || !theirs) throw new NotFoundError(`API key ${id}`);
    return row;
  }

  /** What a rotation asks of the rules: the old key's settings, in the inputs' own names. */
  function settingsOf(old: Row): ApiKeyCreateInput {
    return {
      name: old.name,
      scope: (old.scopes as string[]).join(' '),
      audiences: old.audiences as string[],
      ...(old.ownerUserId ? { owner_user_id: old.ownerUserId } : {}),
      ...(old.ownerClientId ? { owner_client_id: old.ownerClientId } : {}),
      ...(old.organizationId ? { organization_id: old.organizationId } : {}),
      ...(old.rateLimit ? { rate_limit: old.rateLimit } : {}),
    };
  }

  let flushing: Promise<void> | undefined;
  async function writeUsage(): Promise<void> {
    for (const [id, { count, last }] of [...usage]) {
      usage.delete(id);
      try {
        await prisma.apiKey.updateMany({ where: { id }, data: { useCount: { increment: count }, lastUsedAt: last } });
      } catch (error) {
        // Put the counts back for the next flush rather than lose them.
        const since = usage.get(id);
        usage.set(id, { count: count + (since?.count ?? 0), last: since && since.last > last ? since.last : last });
        throw error;
      }
    }
  }
  /** Writes pending use counts; one flush at a time, and a caller waits for the one in progress. */
  async function flushUsage(): Promise<void> {
    while (flushing) await flushing;
    flushing = writeUsage().finally(() => (flushing = undefined));
    return flushing;
  }
  // Last-used time and use count go to the database in batches, not on every request.
  const flusher = setInterval(() => void flushUsage().catch(() => undefined), USAGE_FLUSH_MS);
  flusher.unref();

  return {
    prefix,

    async create(input: ApiKeyCreateInput, actor: Actor) {
      const { key, row } = await insert(await rules.settle(input, actor));
      await audit.record({
        type: 'api_key.created',
        ...actorFields(actor),
        subject: row.id,
        outcome: 'success',
        details: { display_prefix: row.displayPrefix },
      });
      return { ...summary(row), key };
    },

    async list(filter: { ownerUserId?: string; organizationId?: string } = {}): Promise<ApiKeySummary[]> {
      const rows = await prisma.apiKey.findMany({
        where: {
          ...(filter.ownerUserId ? { ownerUserId: filter.ownerUserId } : {}),
          ...(filter.organizationId ? { organizationId: filter.organizationId } : {}),
        },
        orderBy: { createdAt: 'asc' },
      });
      return rows.map(summary);
    },

    async revoke(id: string, actor: Actor) {
      const row = await findFor(id, actor);
      if (!row.revokedAt) await prisma.apiKey.update({ where: { id }, data: { revokedAt: new Date() } });
      for (const [hash, entry] of cache) if (entry.row?.id === id) cache.delete(hash);
      await audit.record({
        type: 'api_key.revoked',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
      });
      return summary((await prisma.apiKey.findUnique({ where: { id } }))!);
    },

    /**
     * A new key with the same settings, checked again by today's rules; the old one keeps
     * working for `grace_seconds`.
     */
    async rotate(id: string, input: ApiKeyRotateInput, actor: Actor) {
      const { grace_seconds: graceSeconds } = parseInput(apiKeyRotateSchema, input);
      const old = await findFor(id, actor);
      if (old.revokedAt) throw new InputError('id', 'a revoked key cannot be rotated');
      const oldExpiry = expiryOf(old);
      if (oldExpiry && oldExpiry.getTime() <= Date.now()) throw new InputError('id', 'an expired key cannot be rotated');
      const settings = await rules.settle(settingsOf(old), actor);
      // The new key ends when the old one would have (a person's key always ends: expiryOf).
      const newExpiresAt = oldExpiry;
      const graceEnds = new Date(Date.now() + graceSeconds * 1000);
      const oldEnds = oldExpiry && oldExpiry < graceEnds ? oldExpiry : graceEnds;
      // One transaction, conditioned on the old key being as we read it: of two rotations (or a
      // rotation and a revocation) at once, one wins and the other is told so.
      const { key, row } = await prisma.$transaction(async (tx) => {
        const { count } = await tx.apiKey.updateMany({
          where: { id, revokedAt: null, expiresAt: old.expiresAt },
          data: { expiresAt: oldEnds },
        });
        if (count !== 1) throw new ConflictError('the key was rotated or revoked at the same time; look again');
        return insert(settings, tx, newExpiresAt);
      });
      cache.clear();
      await audit.record({
        type: 'api_key.rotated',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
        details: { new_id: row.id, grace_seconds: graceSeconds },
      });
      return {
        ...summary((await prisma.apiKey.findUnique({ where: { id: row.id } }))!),
        key,
        previous_key_expires_at: oldEnds.toISOString(),
      };
    },

    /**
     * Checks a presented key. A malformed one (shape or checksum) is refused without touching
     * the database; a well-formed one that fails is an audit event.
     */
    async verify(candidate: unknown, context: { ip?: string } = {}): Promise<Verification> {
      const parsed = parseApiKey(candidate, [prefix]);
      if (!parsed) {
        onVerify?.('malformed');
        return { ok: false, reason: 'malformed' };
      }
      const hash = keyedHash(pepper, candidate as string);
      const now = Date.now();
      let entry = cache.get(hash);
      if (!entry || now - entry.at > VERIFY_CACHE_MS) {
        const row = await prisma.apiKey.findUnique({ where: { keyHash: hash } });
        entry = { row, ownerDisabled: row ? !(await ownerIsLive(row)) : false, at: now };
        if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
        cache.set(hash, entry);
      }
      const { row, ownerDisabled } = entry;
      const reason = !row
        ? 'unknown'
        : row.revokedAt || ownerDisabled
          ? 'revoked'
          : (expiryOf(row)?.getTime() ?? Infinity) <= now
            ? 'expired'
            : undefined;
      onVerify?.(reason ?? (row ? 'valid' : 'unknown'));
      if (reason || !row) {
        // One row per minute for each source and known key (or, for keys that exist nowhere,
        // the key prefix), with a count: a flood of made-up keys that pass the offline checksum
        // cannot fill the audit table.
        const subject = row?.id ?? prefix;
        // A source is an IPv4 address or an IPv6 /64: one host cannot take a fresh row per request.
        auditAggregates.count(`api_key.verification_failed|${subject}|${sourceOf(context.ip ?? '')}|${reason ?? 'unknown'}`, {
          type: 'api_key.verification_failed',
          actorType: 'system',
          subject,
          ...(context.ip ? { ip: context.ip } : {}),
          outcome: 'failure',
          details: { reason: reason ?? 'unknown' },
        });
        return { ok: false, reason: reason ?? 'unknown' };
      }
      const used = usage.get(row.id);
      usage.set(row.id, { count: (used?.count ?? 0) + 1, last: new Date(now) });
      const subject =
        row.ownerUserId ?? row.ownerClientId ?? (row.organizationId ? `organization:${row.organizationId}` : `apikey:${row.id}`);
      return { ok: true, key: { ...summary(row), subject } };
    },

    /**
     * Whether the key with this id is still good (asked for JWTs exchanged from it): it exists,
     * is not revoked, has not expired (a person's key without an expiry ends USER_API_KEY_MAX_DAYS
     * after it was made), and its owner, if it has one, exists and is not a disabled person. Unlike
     * verify(), it reads the database every time.
     */
    async isActive(id: string): Promise<boolean> {
      if (!isStorableText(id)) return false;
      const row = await prisma.apiKey.findUnique({
        where: { id },
        select: { revokedAt: true, expiresAt: true, createdAt: true, ownerUserId: true, ownerClientId: true, organizationId: true },
      });
      return Boolean(row && !row.revokedAt && (expiryOf(row)?.getTime() ?? Infinity) > Date.now() && (await ownerIsLive(row)));
    },

    /** The lifetimes a person may choose for a key of their own, in days; the default selected. */
    personalKeyLifetimes: rules.personalKeyLifetimes,

    /** Forgets cached verifications at once (after an owner was deleted or disabled here). */
    forgetCached() {
      cache.clear();
    },

    flushUsage,
    async close() {
      clearInterval(flusher);
      await flushUsage();
    },
  };
}

export type ApiKeyService = ReturnType<typeof createApiKeyService>;
