// People who log in: creating them, disabling them, resetting their passwords, and checking a
// login. Passwords are kept only as argon2id hashes (see src/crypto/passwords.ts); what a
// password may be is one rule (passwordRule.ts), checked here for every surface that sets one:
// the CLI, the admin API, and the pages through src/accounts.
import { giveDefaultRoles } from '../access/index.ts';
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { hashPassword, passwordNeedsRehash, verifyPassword } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, NotFoundError } from '../errors/index.ts';
import { hasControlCharacters, isStorableText, parseInput } from '../oauth/index.ts';
import { createTtlCache } from '../cache/index.ts';
import { MAX_PASSWORD_UNITS, PASSWORD_PROBLEM_TEXT, passwordProblem } from './passwordRule.ts';
import {
  MAX_EMAIL_LENGTH,
  normalizeEmail,
  userCreateSchema,
  userPasswordSchema,
  type UserCreateInput,
  type UserPasswordInput,
} from './schema.ts';

/**
 * How long the account behind a token is reused between lookups: oidc-provider looks the account
 * up on every refresh and code exchange. The instance that disables a user forgets it at once;
 * other instances within this time, as for clients.
 */
export const ACCOUNT_CACHE_MS = 1000;

/** What tokens and ID tokens say about a person. */
export interface Account {
  id: string;
  email: string;
  name: string | null;
  disabled: boolean;
  /** The person showed they receive mail at `email` (or an administrator vouched for it). */
  emailVerified: boolean;
}

export interface UserSummary {
  id: string;
  email: string;
  name: string | null;
  disabled: boolean;
  email_verified: boolean;
  /** Every sign-in of this person needs a second factor (an administrator's setting). */
  mfa_required: boolean;
  created_at: string;
}

// Deliberately loose (one @, something either side, no spaces): the real test of an address is a
// message that arrives, and over-strict patterns turn away valid addresses.
const emailPattern = /^[^\s@]+@[^\s@]+$/;

/** The login name as stored (lower-case, trimmed); refuses what cannot be an address. */
export function checkedEmail(input: string): string {
  const email = normalizeEmail(input);
  if (!emailPattern.test(email) || email.length > MAX_EMAIL_LENGTH || hasControlCharacters(email))
    throw new InputError('email', 'is not an email address');
  return email;
}

/** Refuses a password the rule does not allow for the account of `email` (InputError on `field`). */
export function checkedPassword(password: string, email: string | null, field = 'password'): string {
  const problem = passwordProblem(password, email);
  if (problem) throw new InputError(field, PASSWORD_PROBLEM_TEXT[problem]);
  return password;
}

function summarize(row: {
  id: string;
  email: string;
  name: string | null;
  disabled: boolean;
  emailVerified: boolean;
  mfaRequired: boolean;
  createdAt: Date;
}): UserSummary {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    disabled: row.disabled,
    email_verified: row.emailVerified,
    mfa_required: row.mfaRequired,
    created_at: row.createdAt.toISOString(),
  };
}

let decoy: Promise<string> | undefined;
/** A real argon2id hash of a random password, verified against when the email is unknown. */
function timingDecoy(): Promise<string> {
  decoy ??= hashPassword(crypto.randomBytes(32).toString('base64url'));
  return decoy;
}

export function createUserService({
  prisma,
  audit,
  onAccessChanged,
  onAddressProvenByReset,
  unverifiedAllowed = true,
}: {
  prisma: Prisma;
  audit: AuditLog;
  /** Told after a person's access changed (disabled, enabled, password reset): cached key checks must go. */
  onAccessChanged?: (id: string) => void;
  /**
   * Told after a person proved their address by a mailed reset link: what was linked to the account
   * on an address nobody had proved (an upstream identity, src/federation) is ended.
   */
  onAddressProvenByReset?: (id: string, actor: Actor) => Promise<void>;
  /**
   * Whether an account may be made unverified: not when mail cannot reach people (production
   * without SMTP_URL), as its owner could never confirm the address.
   */
  unverifiedAllowed?: boolean;
}) {
  /**
   * Ends everything a person holds: browser sessions, grants, and every code and token issued
   * from them (all carry the account id; tokens of a grant carry its id too). JWT access tokens
   * cannot be recalled, but introspection answers inactive for them once their grant is gone.
   */
  async function endAccess(id: string): Promise<number> {
    const grants = await prisma.providerArtifact.findMany({ where: { kind: 'Grant', accountId: id }, select: { payload: true } });
    const grantIds = grants.map((grant) => (JSON.parse(grant.payload) as { jti: string }).jti);
    const { count } = await prisma.providerArtifact.deleteMany({
      where: { OR: [{ accountId: id }, ...(grantIds.length ? [{ grantId: { in: grantIds } }] : [])] },
    });
    onAccessChanged?.(id);
    return count;
  }

  const accounts = createTtlCache<Account | null>(ACCOUNT_CACHE_MS);
  // Counts disables and enables made here: a lookup that was reading while one was written may
  // have read the row from before it, and must not put that in the cache.
  let changes = 0;
  return {
    /**
     * An account made by an administrator: its email counts as verified (the administrator
     * vouches for it), unless `unverified` asks that the person confirm it first.
     */
    async create(input: UserCreateInput, actor: Actor): Promise<{ id: string }> {
      const valid = parseInput(userCreateSchema, input);
      const email = checkedEmail(valid.email);
      checkedPassword(valid.password, email);
      const name = valid.name?.trim() || null;
      if (valid.unverified === true && !unverifiedAllowed)
        throw new InputError(
          'unverified',
          'cannot be used: no mail can be delivered (set SMTP_URL), so the address could never be confirmed',
        );
      if (await prisma.user.findUnique({ where: { email }, select: { id: true } })) {
        throw new ConflictError('a user with this email already exists');
      }
      const id = crypto.randomUUID();
      const verified = valid.unverified !== true;
      await prisma.user.create({
        data: {
          id,
          email,
          name,
          passwordHash: await hashPassword(valid.password),
          emailVerified: verified,
          emailVerifiedAt: verified ? new Date() : null,
        },
      });
      await giveDefaultRoles(prisma, id);
      await audit.record({
        type: 'user.created',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
        ...(verified ? {} : { details: { email_verified: false } }),
      });
      return { id };
    },

    /**
     * Sets a password the person chose through a mailed link (a reset), which also shows they
     * receive mail there, and ends everything they held: a reset is what someone does when they
     * fear another knows the old password. Called once the link is used (AccountTokens.consume),
     * so of two requests with one link only one gets here.
     */
    async setPasswordByMail(id: string, password: string, actor: Actor): Promise<number> {
      const user = await prisma.user.findUnique({ where: { id }, select: { email: true } });
      if (!user) throw new NotFoundError(`user ${id}`);
      checkedPassword(password, user.email);
      await prisma.user.update({
        where: { id },
        data: { passwordHash: await hashPassword(password), emailVerified: true, emailVerifiedAt: new Date() },
      });
      changes += 1;
      accounts.delete(id);
      const ended = await endAccess(id);
      await onAddressProvenByReset?.(id, actor);
      await audit.record({
        type: 'user.password_reset',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
        details: { by: 'email_link', sessions_and_tokens_ended: ended },
      });
      return ended;
    },

    /**
     * Marks the email as verified (a link or code followed); the account's cached claims go. The
     * account keeps its password and name: a link never carries a credential. A disabled account,
     * or one verified meanwhile, is left as it is (false).
     */
    async markVerified(id: string): Promise<boolean> {
      const { count } = await prisma.user.updateMany({
        where: { id, disabled: false, emailVerified: false },
        data: { emailVerified: true, emailVerifiedAt: new Date() },
      });
      changes += 1;
      accounts.delete(id);
      return count === 1;
    },

    /** Ends everything a person holds (an invitation took over their unverified account). */
    async endAccessOf(id: string): Promise<number> {
      changes += 1;
      accounts.delete(id);
      return endAccess(id);
    },

    async findByEmail(email: string) {
      if (!isStorableText(email)) return null;
      return prisma.user.findUnique({ where: { email: normalizeEmail(email) } });
    },

    async list(): Promise<UserSummary[]> {
      const rows = await prisma.user.findMany({ orderBy: { createdAt: 'asc' } });
      return rows.map(summarize);
    },

    /** Disables or re-enables a user. A disabled user cannot log in, and their API keys stop working. */
    async setDisabled(id: string, disabled: boolean, actor: Actor): Promise<UserSummary> {
      const user = isStorableText(id) ? await prisma.user.findUnique({ where: { id } }) : null;
      if (!user) throw new NotFoundError(`user ${id}`);
      const row = await prisma.user.update({ where: { id }, data: { disabled } });
      // Once the change is in: a lookup begun before it will not cache what it read, and one
      // that already cached is forgotten here.
      changes += 1;
      accounts.delete(id);
      const ended = disabled ? await endAccess(id) : 0;
      if (!disabled) onAccessChanged?.(id);
      await audit.record({
        type: disabled ? 'user.disabled' : 'user.enabled',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
        ...(disabled ? { details: { sessions_and_tokens_ended: ended } } : {}),
      });
      return summarize(row);
    },

    /** One user as the lists show them; NotFoundError for an unknown id. */
    async get(id: string): Promise<UserSummary> {
      const user = isStorableText(id) ? await prisma.user.findUnique({ where: { id } }) : null;
      if (!user) throw new NotFoundError(`user ${id}`);
      return summarize(user);
    },

    /**
     * Whether every sign-in of this person needs a second factor, whatever the client and the MFA
     * setting say (the sign-in reads it from the row: src/oidc/authentication.ts). A person
     * without one is asked to add one at their next sign-in; sessions they hold now are left
     * alone, as the setting is about how they sign in, not a sign that someone else did.
     */
    async setMfaRequired(id: string, required: boolean, actor: Actor): Promise<UserSummary> {
      if (typeof required !== 'boolean') throw new InputError('mfa_required', 'must be true or false');
      const user = isStorableText(id) ? await prisma.user.findUnique({ where: { id }, select: { id: true } }) : null;
      if (!user) throw new NotFoundError(`user ${id}`);
      const row = await prisma.user.update({ where: { id }, data: { mfaRequired: required } });
      changes += 1;
      accounts.delete(id);
      await audit.record({
        type: 'user.mfa_required',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
        details: { required },
      });
      return summarize(row);
    },

    /** Sets a new password (argon2id) and ends the user's sessions, grants and tokens. */
    async resetPassword(id: string, input: UserPasswordInput, actor: Actor): Promise<void> {
      const { password } = parseInput(userPasswordSchema, input);
      const user = isStorableText(id) ? await prisma.user.findUnique({ where: { id }, select: { id: true, email: true } }) : null;
      if (!user) throw new NotFoundError(`user ${id}`);
      checkedPassword(password, user.email);
      await prisma.user.update({ where: { id }, data: { passwordHash: await hashPassword(password) } });
      const ended = await endAccess(id);
      await audit.record({
        type: 'user.password_reset',
        ...actorFields(actor),
        subject: id,
        outcome: 'success',
        details: { sessions_and_tokens_ended: ended },
      });
    },

    /** The user's live browser sessions (when they started and until when they last). */
    async listSessions(id: string): Promise<{ created_at: string; expires_at: string | null }[]> {
      if (!isStorableText(id) || !(await prisma.user.findUnique({ where: { id }, select: { id: true } })))
        throw new NotFoundError(`user ${id}`);
      const rows = await prisma.providerArtifact.findMany({
        where: { kind: 'Session', accountId: id, OR: [{ expiresAt: null }, { expiresAt: { gt: new Date() } }] },
        orderBy: { createdAt: 'desc' },
        select: { createdAt: true, expiresAt: true },
      });
      return rows.map((row) => ({ created_at: row.createdAt.toISOString(), expires_at: row.expiresAt?.toISOString() ?? null }));
    },

    async findById(id: string) {
      if (!isStorableText(id)) return null;
      return prisma.user.findUnique({ where: { id } });
    },

    /** The account behind a token (src/oidc's findAccount), cached for ACCOUNT_CACHE_MS. */
    async findAccount(id: string): Promise<Account | null> {
      if (!isStorableText(id)) return null;
      const cached = accounts.get(id);
      if (cached !== undefined) return cached;
      const before = changes;
      const user = await prisma.user.findUnique({
        where: { id },
        select: { id: true, email: true, name: true, disabled: true, emailVerified: true },
      });
      if (changes === before) accounts.set(id, user);
      return user;
    },

    /**
     * Checks an email and password. Returns the user, or undefined for any failure (unknown
     * email, wrong password, disabled account) so callers cannot tell them apart. An unknown
     * email still costs one argon2 verification, so timing does not tell either.
     */
    async verifyLogin(email: string, password: string): Promise<{ id: string; email: string; emailVerified: boolean } | undefined> {
      if (!isStorableText(email) || typeof password !== 'string' || password.length > MAX_PASSWORD_UNITS) {
        await verifyPassword(await timingDecoy(), 'x');
        return undefined;
      }
      const user = await prisma.user.findUnique({ where: { email: normalizeEmail(email) } });
      const matches = await verifyPassword(user?.passwordHash ?? (await timingDecoy()), password);
      if (!user || !matches || user.disabled || !user.passwordHash) return undefined;
      if (passwordNeedsRehash(user.passwordHash)) {
        // Parameters changed since this hash was made: store it again with today's.
        await prisma.user.update({ where: { id: user.id }, data: { passwordHash: await hashPassword(password) } });
      }
      return { id: user.id, email: user.email, emailVerified: user.emailVerified };
    },
  };
}

export type UserService = ReturnType<typeof createUserService>;
