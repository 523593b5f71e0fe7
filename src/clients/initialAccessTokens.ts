// Initial access tokens (RFC 7591 section 3): what an administrator hands a developer so that
// they may register clients themselves (CLIENT_REGISTRATION=on). A token is 256 bits from the
// CSPRNG, shown once when made and stored only as its keyed hash (HMAC-SHA256 under the pepper,
// as client secrets are); it is good until its expiry and for so many registrations, and says
// which grant types and API scopes a client registered with it may have. Each registration
// spends one use in the same transaction that writes the client (src/clients/registration.ts),
// by a conditional update, so a token with one use left registers one client however many ask
// at once.
import crypto from 'node:crypto';
import { z } from 'zod';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { keyedHash, randomSecret } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { NotFoundError } from '../errors/index.ts';
import { isStorableText, normalizeScope, parseInput, scopeText, scopeWords } from '../oauth/index.ts';
import { supportedGrantTypes, type GrantType } from './schema.ts';

/** A token lives from one minute to one year when its lifetime is given. */
const MIN_TOKEN_SECONDS = 60;
const MAX_TOKEN_SECONDS = 365 * 86_400;
const lifetimeBounds = 'must be from 1 minute to 1 year';
/** What a client registered with a token may have unless the administrator says otherwise. */
export const DEFAULT_REGISTRATION_GRANTS: readonly GrantType[] = ['authorization_code', 'refresh_token'];

const grantType = z.enum(supportedGrantTypes, {
  error: (issue) => `${JSON.stringify(issue.input)} is not one of ${supportedGrantTypes.join(', ')}`,
});

export const registrationTokenCreateSchema = z.object({
  expires_in_seconds: z
    .number()
    .int(lifetimeBounds)
    .min(MIN_TOKEN_SECONDS, lifetimeBounds)
    .max(MAX_TOKEN_SECONDS, lifetimeBounds)
    .optional()
    .describe('lifetime (default: no expiry)'),
  uses: z
    .number()
    .int('must be a whole number')
    .min(1, 'must be at least 1')
    .max(1_000_000, 'must be at most 1000000')
    .optional()
    .describe('how many clients it may register (default: no limit)'),
  grant_types: z
    .array(grantType)
    .min(1, 'at least one grant type is required')
    .default([...DEFAULT_REGISTRATION_GRANTS])
    .describe('the grant types a registered client may have (default: authorization_code, refresh_token)'),
  scope: scopeText.default('').describe('the API scopes a registered client may ask for (default: none)'),
});
export type RegistrationTokenCreateInput = z.input<typeof registrationTokenCreateSchema>;

export interface RegistrationTokenSummary {
  id: string;
  grant_types: GrantType[];
  scope: string;
  expires_at: string | null;
  /** null: no limit. */
  uses_left: number | null;
  uses: number;
  created_at: string;
}

export interface CreatedRegistrationToken extends RegistrationTokenSummary {
  /** The token itself: shown only this once. */
  token: string;
}

/** What a client registered with a token may have. */
export interface RegistrationAllowance {
  grantTypes: ReadonlySet<string>;
  scope: ReadonlySet<string>;
}

type Row = {
  id: string;
  grantTypes: string;
  scope: string;
  expiresAt: Date | null;
  usesLeft: number | null;
  uses: number;
  createdAt: Date;
};

function summarize(row: Row): RegistrationTokenSummary {
  return {
    id: row.id,
    grant_types: scopeWords(row.grantTypes) as GrantType[],
    scope: row.scope,
    expires_at: row.expiresAt?.toISOString() ?? null,
    uses_left: row.usesLeft,
    uses: row.uses,
    created_at: row.createdAt.toISOString(),
  };
}

/** A token still good for a registration: not expired, a use left. */
const usable = (row: Row, now = Date.now()) =>
  (row.expiresAt === null || row.expiresAt.getTime() > now) && (row.usesLeft === null || row.usesLeft > 0);

export interface RegistrationTokenServiceOptions {
  prisma: Prisma;
  pepper: string;
  audit: AuditLog;
}

export function createRegistrationTokenService({ prisma, pepper, audit }: RegistrationTokenServiceOptions) {
  const hashOf = (token: string) => keyedHash(pepper, token);

  /** The row of a presented token, when it is one of ours and still usable. */
  async function findUsable(token: string): Promise<Row | undefined> {
    // A malformed value never reaches the database (the adapter is asked for any bearer value).
    if (!isStorableText(token) || token.length > 200) return undefined;
    const row = await prisma.initialAccessToken.findUnique({ where: { tokenHash: hashOf(token) } });
    return row && usable(row) ? row : undefined;
  }

  return {
    async create(input: RegistrationTokenCreateInput, actor: Actor): Promise<CreatedRegistrationToken> {
      const settings = parseInput(registrationTokenCreateSchema, input);
      const token = randomSecret(32);
      const row = await prisma.initialAccessToken.create({
        data: {
          id: crypto.randomUUID(),
          tokenHash: hashOf(token),
          expiresAt: settings.expires_in_seconds === undefined ? null : new Date(Date.now() + settings.expires_in_seconds * 1000),
          usesLeft: settings.uses ?? null,
          grantTypes: [...new Set(settings.grant_types)].join(' '),
          scope: normalizeScope(settings.scope),
        },
      });
      await audit.record({
        type: 'registration_token.created',
        ...actorFields(actor),
        subject: row.id,
        outcome: 'success',
        details: { grant_types: settings.grant_types, uses: settings.uses ?? null, expires_at: row.expiresAt?.toISOString() ?? null },
      });
      return { ...summarize(row), token };
    },

    /** Every token, newest first (never the token, never its hash). */
    async list(): Promise<RegistrationTokenSummary[]> {
      const rows = await prisma.initialAccessToken.findMany({ orderBy: [{ createdAt: 'desc' }, { id: 'asc' }] });
      return rows.map(summarize);
    },

    /** Deletes a token: no client can be registered with it any more (clients made with it stay). */
    async delete(id: string, actor: Actor): Promise<void> {
      const { count } = isStorableText(id) ? await prisma.initialAccessToken.deleteMany({ where: { id } }) : { count: 0 };
      if (count !== 1) throw new NotFoundError(`registration token ${id}`);
      await audit.record({ type: 'registration_token.deleted', ...actorFields(actor), subject: id, outcome: 'success' });
    },

    /**
     * Deletes the tokens whose expiry has passed (what the purge does for every artifact). Used-up
     * tokens stay until an administrator deletes them: the list shows what each one registered.
     * Returns how many went.
     */
    async purgeExpired(now = new Date()): Promise<number> {
      const { count } = await prisma.initialAccessToken.deleteMany({ where: { expiresAt: { lt: now } } });
      return count;
    },

    /**
     * oidc-provider's InitialAccessToken as the adapter serves it, or nothing for a token that is
     * unknown, expired or used up. `jti` is the presented value (oidc-provider's id of the
     * token), never stored; `policies` names the registration policy of src/oidc/registration.ts.
     */
    async findForProvider(token: string, policies: string[]): Promise<Record<string, unknown> | undefined> {
      const row = await findUsable(token);
      if (!row) return undefined;
      return {
        jti: token,
        kind: 'InitialAccessToken',
        iat: Math.floor(row.createdAt.getTime() / 1000),
        ...(row.expiresAt ? { exp: Math.floor(row.expiresAt.getTime() / 1000) } : {}),
        policies,
      };
    },

    /** The id and allowance of a usable token (the actor of a registration is the token's id). */
    async allowance(token: string): Promise<({ id: string } & RegistrationAllowance) | undefined> {
      const row = await findUsable(token);
      return row && { id: row.id, grantTypes: new Set(scopeWords(row.grantTypes)), scope: new Set(scopeWords(row.scope)) };
    },

    /**
     * Spends one use of the token, inside the caller's transaction: one conditional update, so of
     * two registrations racing for a token's last use exactly one counts it. False when the token
     * has meanwhile expired, been used up or deleted.
     */
    async spend(tx: Pick<Prisma, 'initialAccessToken'>, id: string): Promise<boolean> {
      const now = new Date();
      const { count } = await tx.initialAccessToken.updateMany({
        where: {
          id,
          AND: [{ OR: [{ usesLeft: null }, { usesLeft: { gt: 0 } }] }, { OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] }],
        },
        data: { uses: { increment: 1 }, usesLeft: { decrement: 1 } },
      });
      return count === 1;
    },
  };
}

export type RegistrationTokenService = ReturnType<typeof createRegistrationTokenService>;
