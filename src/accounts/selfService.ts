// What people do by mail before they are signed in: sign up, verify their address (a link or a
// six-digit code), reset a forgotten password, accept an invitation; and what an administrator
// does to invite someone. The pages, the CLI and the admin API all call these functions, so each
// rule is written once.
//
// Four rules hold for every flow here:
// - No answer tells whether an address has an account (OWASP ASVS 2.5, 3.7): sign-up, resend
//   and forgotten password answer `{ ok: true }` whatever the address, and mail goes only where
//   it is meant (a sign-up for a taken address tells its owner instead). Nor does the time an
//   answer takes: these requests check the form, count the limits and write one outbox intent
//   (the same row whatever the address), then answer. The lookup, the token and the mail are
//   the intent's resolution (src/mail/outbox.ts), which is durable: a crash or a database error
//   after the answer leaves the intent to be retried with the outbox's backoff, like a mail.
// - An unauthenticated request never changes an existing account or its links. A sign-up for
//   an address that has an account, verified or not, sends its owner a notice (once per form
//   submitted; nothing when a verification link went there less than RETRY_WINDOW_SECONDS ago:
//   that is the same sign-up submitted twice). No link ever carries a password: the owner's
//   first link keeps working, and a password reset, whose link also verifies the address, is
//   the way to a new password.
// - A mail is written to the outbox in the same transaction as the token it carries, and a
//   retried request writes nothing more: while a link of the same purpose sent to the same
//   person less than a minute ago still works, no new one is made (so the first mail's link
//   stays the one that works); a notice without a link carries a dedupe key of the action it
//   is about (the reset link used, the sign-up form submitted). A request for a new link after
//   the old one expired or was used is never held back.
// - Mail is rate-limited per address and per source (shared through Redis when REDIS_URL is
//   set), counted before anything is looked up, so a limit tells nothing about an account
//   either. Typed codes are limited too: wrong ones per address per day, whether or not the
//   address has a sign-up waiting, and all tries per source.
import { giveDefaultRoles } from '../access/index.ts';
import crypto from 'node:crypto';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { hashPassword } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, InputError, PortcullisError } from '../errors/index.ts';
import { sourceOf, type RateLimiter } from '../limits/index.ts';
import { composeMail, type Outbox } from '../mail/index.ts';
import type { Views } from '../templates/index.ts';
import {
  checkedEmail,
  MAX_EMAIL_LENGTH,
  MAX_NAME_LENGTH,
  nameProblem,
  normalizeEmail,
  passwordProblem,
  type PasswordProblem,
  type UserService,
} from '../users/index.ts';
import { TOKEN_LIFETIME_SECONDS, type AccountTokens, type TokenPurpose } from './tokens.ts';

/** A link sent less than this long ago, and still good, is not sent again: the request was a retry. */
/** Mail anyone can cause, per address and per source (an IPv4 address, an IPv6 /64). */
export const MAIL_LIMITS = { perAddress: '5/3600s', perSource: '30/3600s' } as const;
/** The longest an invitation may be made to last. */
export const MAX_INVITATION_SECONDS = 30 * 86_400;
/**
 * Typed verification codes: wrong ones per address and day, counted whether or not the address
 * has a sign-up waiting (so the count tells nothing, and a mailbox nobody controls cannot be
 * guessed into verified: 10 tries of 10^6 a day), and all tries per source.
 */
export const CODE_LIMITS = { wrongPerAddress: '10/86400s', perSource: '30/3600s' } as const;

export type FormProblem = PasswordProblem | 'email_invalid' | 'name_too_long' | 'name_invalid';

/** What a request that may send mail comes to. */
export type MailOutcome = { ok: true } | { ok: false; problem: FormProblem } | { ok: false; retryAfterSeconds: number };

/** What following a link comes to: unknown means never issued, tampered with, or for another purpose. */
export type LinkOutcome<T = object> = ({ ok: true } & T) | { ok: false; reason: 'unknown' | 'used' | 'expired' };

/** What a typed code comes to: one answer for every wrong one, or a wait when this source tried too many. */
export type CodeOutcome = { ok: true; userId: string } | { ok: false; reason: 'wrong' } | { ok: false; retryAfterSeconds: number };

export interface SelfServiceOptions {
  prisma: Prisma;
  users: UserService;
  tokens: AccountTokens;
  outbox: Outbox;
  views: Views;
  rateLimiter: RateLimiter;
  audit: AuditLog;
  issuer: string;
  signup: 'closed' | 'invite' | 'open';
  mailLimits?: { perAddress: string; perSource: string };
}

/** Who asks, as the pages know them: their address (for limits and audit) and language. */
export interface Visitor {
  ip: string;
  lang: string;
  userAgent?: string;
  /**
   * The form this request submitted (a random value the page put in it): the same value again
   * is a retry of the same request (a double click, a proxy), whose notice is not sent twice.
   */
  attempt?: string;
}

const ATTEMPT = /^[A-Za-z0-9_-]{16,64}$/;
/** A name a person typed: the users' one rule (src/users/names.ts), in this form's words. */
function formNameProblem(name: string | null): FormProblem | undefined {
  const problem = nameProblem(name);
  return problem === 'invalid' ? 'name_invalid' : problem === 'too_long' ? 'name_too_long' : undefined;
}

/** Thrown inside a transaction to undo it when its mail was already written by an earlier try. */
class AlreadySent extends Error {}

/**
 * What an intent holds besides its address (sealed in the outbox, erased once resolved): who
 * asked, and for a sign-up its name and the argon2id hash of its password (a new account needs
 * them; an existing account never takes them). No token, code or link: those are made when the
 * intent is resolved.
 */
interface IntentPayload {
  visitor: Visitor;
  name?: string | null;
  passwordHash?: string;
}

export function createSelfService({
  prisma,
  users,
  tokens,
  outbox,
  views,
  rateLimiter,
  audit,
  issuer,
  signup,
  mailLimits = MAIL_LIMITS,
}: SelfServiceOptions) {
  const base = issuer.replace(/\/$/, '');
  const link = (path: string, token: string) => `${base}${path}?token=${encodeURIComponent(token)}`;

  /**
   * Writes the intent `kind` for `email` before the answer (one row, the same whatever the
   * address) and has it resolved at once; a failure is retried by the outbox.
   */
  async function intend(kind: string, email: string, payload: IntentPayload): Promise<void> {
    await outbox.intend(prisma, kind, email, payload);
    outbox.kick();
  }

  /** Counts one mail for the source and the address; the seconds to wait when either is spent. */
  async function mailAllowed(email: string, ip: string): Promise<number | undefined> {
    const source = await rateLimiter.consume(`mail-source:${sourceOf(ip)}`, mailLimits.perSource);
    if (!source.allowed) return source.retryAfterSeconds;
    const address = await rateLimiter.consume(`mail-address:${email}`, mailLimits.perAddress);
    if (!address.allowed) return address.retryAfterSeconds;
    return undefined;
  }

  /**
   * Runs `write` (which issues a token and writes its mail) in one transaction, and sends after
   * commit. `write` returns false when the outbox already held this mail: everything is undone.
   */
  async function inTransaction(write: (tx: Prisma) => Promise<boolean>): Promise<boolean> {
    try {
      await prisma.$transaction(async (tx) => {
        if (!(await write(tx as Prisma))) throw new AlreadySent();
      });
    } catch (error) {
      if (error instanceof AlreadySent) return false;
      throw error;
    }
    outbox.kick();
    return true;
  }

  /**
   * Writes one mail in `tx`. A notice is written once per `action` (what it is about); false
   * when this one already was.
   */
  function enqueue(
    tx: Prisma,
    template: string,
    to: string,
    lang: string,
    data: Record<string, unknown>,
    action?: string,
  ): Promise<boolean> {
    const mail = composeMail(views, { template, to, lang, data: { ...data, product: views.brand.name } });
    return outbox.enqueue(tx, mail, action ? `${template}:${action}` : undefined);
  }

  /**
   * A new verification link and code for `user`, mailed in `tx`, unless one went there within
   * RETRY_WINDOW_SECONDS (false). `action` (the intent resolved) keys the mail: the same intent
   * resolved again writes nothing. The mail greets nobody by name: a name typed at sign-up is
   * not something the mailbox's owner ever vouched for.
   */
  async function writeVerification(tx: Prisma, user: { id: string; email: string }, lang: string, action: string): Promise<boolean> {
    if (await tokens.justIssued(tx, 'verify_email', user.id)) return false;
    const issued = await tokens.issue(tx, { purpose: 'verify_email', email: user.email, userId: user.id, withCode: true });
    return enqueue(
      tx,
      'verify-email',
      user.email,
      lang,
      { url: link('/verify-email', issued.token), code: issued.code, hours: TOKEN_LIFETIME_SECONDS.verify_email / 3600 },
      action,
    );
  }

  /** The address as stored, or undefined when it cannot be one (the form says so). */
  function addressOf(input: string): string | undefined {
    try {
      return checkedEmail(input.slice(0, MAX_EMAIL_LENGTH + 1));
    } catch {
      return undefined;
    }
  }

  async function linkOf(purpose: TokenPurpose, token: unknown) {
    const checked = await tokens.check(purpose, token);
    if (!checked.ok) return { ok: false as const, reason: checked.reason, row: checked.row };
    return checked;
  }

  // What each intent written before an answer comes to (every instance resolves any of them).
  const handlers = { 'sign-up': completeSignUp, 'resend-verification': completeResend, 'forgot-password': completePasswordReset };
  for (const [kind, complete] of Object.entries(handlers))
    outbox.handle(kind, ({ id, address, payload }) => complete(id, address, payload as IntentPayload));

  return {
    signup,

    /**
     * Sign-up (SIGNUP=open): a new account waits for its address to be verified; for a taken
     * address its owner is told by mail instead, and the answer is the same.
     */
    async signUp(input: { email: string; password: string; name?: string }, visitor: Visitor): Promise<MailOutcome> {
      if (signup !== 'open') throw new PortcullisError('not_found', 404, 'sign-up is not open');
      const email = addressOf(input.email);
      if (!email) return { ok: false, problem: 'email_invalid' };
      const problem = passwordProblem(input.password, email);
      if (problem) return { ok: false, problem };
      const name = input.name?.trim() || null;
      const badName = formNameProblem(name);
      if (badName) return { ok: false, problem: badName };
      const wait = await mailAllowed(email, visitor.ip);
      if (wait) return { ok: false, retryAfterSeconds: wait };
      // Hashed before the answer, whatever the address (every sign-up costs the same); what
      // depends on the address is done after it.
      const passwordHash = await hashPassword(input.password);
      await intend('sign-up', email, { visitor, name, passwordHash });
      return { ok: true };
    },

    /** A new verification mail, for an address whose account is not verified yet (else nothing, same answer). */
    async resendVerification(emailInput: string, visitor: Visitor): Promise<MailOutcome> {
      const email = addressOf(emailInput);
      if (!email) return { ok: false, problem: 'email_invalid' };
      const wait = await mailAllowed(email, visitor.ip);
      if (wait) return { ok: false, retryAfterSeconds: wait };
      await intend('resend-verification', email, { visitor });
      return { ok: true };
    },

    /** Whether a verification link is good (for the page that offers to confirm it). */
    async checkVerification(token: unknown): Promise<LinkOutcome<{ email: string }>> {
      const checked = await linkOf('verify_email', token);
      return checked.ok ? { ok: true, email: checked.row.email } : checked;
    },

    /** Follows a verification link: the address is verified, once. */
    async verifyByLink(token: unknown, visitor: Pick<Visitor, 'ip'>): Promise<LinkOutcome<{ userId: string }>> {
      const checked = await linkOf('verify_email', token);
      if (!checked.ok) return checked;
      return verify(checked.row, visitor);
    },

    /**
     * The six-digit code of the newest verification mail to `email`. Every wrong code is one
     * answer, whether the address has a sign-up waiting, its code was tried too often, or the
     * address is past its daily count of wrong codes.
     */
    async verifyByCode(emailInput: string, code: string, visitor: Pick<Visitor, 'ip'>): Promise<CodeOutcome> {
      const source = await rateLimiter.consume(`code-source:${sourceOf(visitor.ip)}`, CODE_LIMITS.perSource);
      if (!source.allowed) return { ok: false, retryAfterSeconds: source.retryAfterSeconds };
      const email = normalizeEmail(emailInput.slice(0, MAX_EMAIL_LENGTH));
      const counted = `code-address:${email}`;
      if (await rateLimiter.spentFor(counted, CODE_LIMITS.wrongPerAddress)) return { ok: false, reason: 'wrong' };
      const checked = await tokens.checkCode('verify_email', email, code);
      if (!checked.ok) {
        await rateLimiter.penalize(counted, CODE_LIMITS.wrongPerAddress);
        return { ok: false, reason: 'wrong' };
      }
      const verified = await verify(checked.row, visitor);
      return verified.ok ? verified : { ok: false, reason: 'wrong' };
    },

    /** Forgotten password: a 30-minute link to an address with an account; the same answer for any other. */
    async requestPasswordReset(emailInput: string, visitor: Visitor): Promise<MailOutcome> {
      const email = addressOf(emailInput);
      if (!email) return { ok: false, problem: 'email_invalid' };
      const wait = await mailAllowed(email, visitor.ip);
      if (wait) return { ok: false, retryAfterSeconds: wait };
      await intend('forgot-password', email, { visitor });
      return { ok: true };
    },

    /**
     * Resolves once the intents due (and the mail they write) were tried (tests; a server
     * closing). One that failed waits in the outbox for its next attempt.
     */
    async settled(): Promise<void> {
      await outbox.flush();
    },

    async checkPasswordReset(token: unknown): Promise<LinkOutcome<{ email: string }>> {
      const checked = await linkOf('reset_password', token);
      return checked.ok ? { ok: true, email: checked.row.email } : checked;
    },

    /**
     * Sets the new password through a reset link: once, under the password rule; every session,
     * refresh token and grant of the person ends, and a notice goes to the address.
     */
    async resetPassword(
      token: unknown,
      password: string,
      visitor: Visitor,
    ): Promise<LinkOutcome | { ok: false; problem: PasswordProblem }> {
      const checked = await linkOf('reset_password', token);
      if (!checked.ok) return checked;
      const { row } = checked;
      const problem = passwordProblem(password, row.email);
      if (problem) return { ok: false, problem };
      const user = row.userId ? await prisma.user.findUnique({ where: { id: row.userId } }) : null;
      // The account was deleted or its address changed since the link was sent: it is no link for it any more.
      if (!user || user.email !== row.email || user.disabled) return { ok: false, reason: 'unknown' };
      if (!(await tokens.consume(prisma, row.id))) return { ok: false, reason: 'used' };
      await users.setPasswordByMail(user.id, password, { type: 'user', id: user.id, ip: visitor.ip });
      await tokens.revokeFor(prisma, user.id);
      await inTransaction((tx) =>
        enqueue(
          tx,
          'password-changed',
          user.email,
          user.locale ?? visitor.lang,
          { name: user.name, url: `${base}/forgot-password` },
          row.id,
        ),
      );
      return { ok: true };
    },

    /**
     * An invitation (SIGNUP=invite or open): a link, good for `expiresInSeconds` (7 days unless
     * told), where the person sets a password; the account it makes is verified by it.
     */
    async invite(
      input: { email: string; name?: string | undefined; expiresInSeconds?: number | undefined; lang?: string | undefined },
      actor: Actor,
    ): Promise<{ id: string; email: string; name: string | null; expires_at: string }> {
      if (signup === 'closed') {
        throw new PortcullisError('conflict', 409, 'invitations are off (SIGNUP=closed): set SIGNUP=invite or SIGNUP=open');
      }
      const email = checkedEmail(input.email);
      const name = input.name?.trim() || null;
      const badName = formNameProblem(name);
      if (badName === 'name_invalid') throw new InputError('name', 'must be one line of text, without control characters');
      if (badName) throw new InputError('name', `must be at most ${MAX_NAME_LENGTH} characters`);
      const seconds = input.expiresInSeconds ?? TOKEN_LIFETIME_SECONDS.invitation;
      if (!Number.isInteger(seconds) || seconds < 60 || seconds > MAX_INVITATION_SECONDS) {
        throw new InputError('expires_in', `must be between 1 minute and ${MAX_INVITATION_SECONDS / 86_400} days`);
      }
      // An account nobody confirmed does not stand in the way: accepting takes it over.
      if (await prisma.user.findFirst({ where: { email, OR: [{ emailVerified: true }, { disabled: true }] }, select: { id: true } }))
        throw new ConflictError('a user with this email already exists');
      if (input.lang !== undefined && input.lang !== 'en' && input.lang !== 'de') throw new InputError('lang', 'must be en or de');
      const lang = input.lang ?? 'en';
      let issued: { id: string; expiresAt: Date } | undefined;
      const createdBy = actor.type === 'system' ? 'system' : `${actor.type}:${actor.id ?? 'cli'}`;
      await prisma.$transaction(async (tx) => {
        const made = await tokens.issue(tx as Prisma, { purpose: 'invitation', email, name, ttlSeconds: seconds, createdBy });
        issued = made;
        // No dedupe key: an administrator inviting twice means a new link (the earlier one stops).
        await outbox.enqueue(
          tx as Prisma,
          composeMail(views, {
            template: 'invitation',
            to: email,
            lang,
            data: { name, url: link('/invitation', made.token), expiresAt: made.expiresAt, product: views.brand.name },
          }),
        );
      });
      outbox.kick();
      await audit.record({
        type: 'user.invited',
        ...actorFields(actor),
        subject: issued!.id,
        outcome: 'success',
        details: { expires_at: issued!.expiresAt.toISOString() },
      });
      return { id: issued!.id, email, name, expires_at: issued!.expiresAt.toISOString() };
    },

    async checkInvitation(token: unknown): Promise<LinkOutcome<{ email: string; name: string | null }>> {
      const checked = await linkOf('invitation', token);
      return checked.ok ? { ok: true, email: checked.row.email, name: checked.row.name } : checked;
    },

    /** Accepts an invitation: the account is made with this password, verified, once. */
    async acceptInvitation(
      token: unknown,
      input: { password: string; name?: string },
      visitor: Visitor,
    ): Promise<LinkOutcome<{ userId: string }> | { ok: false; problem: FormProblem }> {
      const checked = await linkOf('invitation', token);
      if (!checked.ok) return checked;
      const { row } = checked;
      const problem = passwordProblem(input.password, row.email);
      if (problem) return { ok: false, problem };
      const name = input.name?.trim() || row.name || null;
      const badName = formNameProblem(name);
      if (badName) return { ok: false, problem: badName };
      const passwordHash = await hashPassword(input.password);
      const accepted = await prisma
        .$transaction(async (tx) => {
          if (!(await tokens.consume(tx as Prisma, row.id))) return undefined;
          const existing = await tx.user.findUnique({ where: { email: row.email } });
          if (existing) {
            // Someone signed this address up and never confirmed it: the invitation proves the
            // mailbox, so the account becomes the invited person's (their password, verified).
            // A verified or disabled account stays as it is (throwing undoes the consume).
            if (existing.emailVerified || existing.disabled) throw new AlreadySent();
            await tx.user.update({
              where: { id: existing.id },
              data: { passwordHash, name, emailVerified: true, emailVerifiedAt: new Date() },
            });
            await tokens.revokeFor(tx as Prisma, existing.id);
            return { id: existing.id, tookOver: true };
          }
          const id = crypto.randomUUID();
          await tx.user.create({
            data: { id, email: row.email, name, passwordHash, emailVerified: true, emailVerifiedAt: new Date(), locale: visitor.lang },
          });
          await giveDefaultRoles(tx as Prisma, id);
          return { id, tookOver: false };
        })
        // The address got an account since the invitation was sent (the unique email refused it).
        .catch(async (error: unknown) => {
          if (error instanceof AlreadySent) return undefined;
          if (await prisma.user.findUnique({ where: { email: row.email }, select: { id: true } })) return undefined;
          throw error;
        });
      if (!accepted) return { ok: false, reason: 'used' };
      // What the earlier sign-up held (sessions, grants) ends.
      if (accepted.tookOver) await users.endAccessOf(accepted.id);
      await audit.record({
        type: 'user.invitation_accepted',
        actorType: 'user',
        actorId: accepted.id,
        ip: visitor.ip,
        subject: accepted.id,
        outcome: 'success',
        details: { invitation: row.id, ...(accepted.tookOver ? { took_over_unverified: true } : {}) },
      });
      return { ok: true, userId: accepted.id };
    },

    /**
     * An expired invitation sent again to the same address (only there, so it gives nobody
     * else anything), good for as long as the first was meant to be; limited like any mail.
     */
    async renewInvitation(token: unknown, visitor: Visitor): Promise<MailOutcome> {
      const checked = await linkOf('invitation', token);
      if (checked.ok || checked.reason !== 'expired' || !checked.row) return { ok: true };
      const { row } = checked;
      const wait = await mailAllowed(row.email, visitor.ip);
      if (wait) return { ok: false, retryAfterSeconds: wait };
      if (
        await prisma.user.findFirst({
          where: { email: row.email, OR: [{ emailVerified: true }, { disabled: true }] },
          select: { id: true },
        })
      )
        return { ok: true };
      const seconds = Math.min(
        Math.max(60, Math.round((row.expiresAt.getTime() - row.createdAt.getTime()) / 1000)),
        MAX_INVITATION_SECONDS,
      );
      await inTransaction(async (tx) => {
        const made = await tokens.issue(tx, {
          purpose: 'invitation',
          email: row.email,
          name: row.name,
          ttlSeconds: seconds,
          createdBy: row.createdBy,
        });
        return enqueue(tx, 'invitation', row.email, visitor.lang, {
          name: row.name,
          url: link('/invitation', made.token),
          expiresAt: made.expiresAt,
        });
      });
      return { ok: true };
    },
  };

  /**
   * Resolves a sign-up's intent: a new account waiting for its address to be verified; or, for
   * an address that has an account (verified, unverified or disabled), its owner told, once per
   * form submitted, and nothing when a verification link went there within RETRY_WINDOW_SECONDS
   * (the same sign-up submitted twice, whose first link is on its way). The account and its
   * links stay as they are.
   */
  async function completeSignUp(intent: string, email: string, { visitor, name = null, passwordHash }: IntentPayload): Promise<void> {
    if (!passwordHash) return;
    const existing = await prisma.user.findUnique({ where: { email } });
    if (existing) {
      const attempt = visitor.attempt && ATTEMPT.test(visitor.attempt) ? visitor.attempt : intent;
      const written = await inTransaction(async (tx) => {
        if (await tokens.justIssued(tx, 'verify_email', existing.id)) return false;
        return enqueue(
          tx,
          'account-exists',
          email,
          existing.locale ?? visitor.lang,
          { url: `${base}/forgot-password` },
          `${existing.id}:${attempt}`,
        );
      });
      if (written)
        await audit.record({ type: 'user.signup_existing', actorType: 'user', ip: visitor.ip, subject: existing.id, outcome: 'failure' });
      return;
    }
    const id = crypto.randomUUID();
    try {
      const written = await inTransaction(async (tx) => {
        await tx.user.create({ data: { id, email, name, passwordHash, emailVerified: false, locale: visitor.lang } });
        await giveDefaultRoles(tx as Prisma, id);
        return writeVerification(tx, { id, email }, visitor.lang, intent);
      });
      if (!written) return;
    } catch (error) {
      // Two sign-ups for one new address at once: the other made the account (its mail is on its way).
      if (await prisma.user.findUnique({ where: { email }, select: { id: true } })) return;
      throw error;
    }
    await audit.record({ type: 'user.signed_up', actorType: 'user', actorId: id, ip: visitor.ip, subject: id, outcome: 'success' });
  }

  /** Resolves a resend's intent: a new verification mail for an account not verified yet, else nothing. */
  async function completeResend(intent: string, email: string, { visitor }: IntentPayload): Promise<void> {
    const user = await prisma.user.findUnique({ where: { email } });
    if (user && !user.emailVerified && !user.disabled)
      await inTransaction((tx) => writeVerification(tx, user, user.locale ?? visitor.lang, intent));
  }

  /** Resolves a forgotten password's intent: a reset link to an account that is not disabled, else nothing. */
  async function completePasswordReset(intent: string, email: string, { visitor }: IntentPayload): Promise<void> {
    const user = await prisma.user.findUnique({ where: { email } });
    if (!user || user.disabled) return;
    const written = await inTransaction(async (tx) => {
      if (await tokens.justIssued(tx, 'reset_password', user.id)) return false;
      const issued = await tokens.issue(tx, { purpose: 'reset_password', email, userId: user.id });
      return enqueue(
        tx,
        'reset-password',
        email,
        user.locale ?? visitor.lang,
        {
          // A name nobody confirmed (typed at a sign-up never verified) is not put in a mail.
          name: user.emailVerified ? user.name : null,
          url: link('/reset-password', issued.token),
          minutes: TOKEN_LIFETIME_SECONDS.reset_password / 60,
        },
        intent,
      );
    });
    if (written)
      await audit.record({
        type: 'user.password_reset_requested',
        actorType: 'user',
        ip: visitor.ip,
        subject: user.id,
        outcome: 'success',
      });
  }

  /** Follows a verification link or code: the address is verified, once. A disabled account is not verified. */
  async function verify(
    row: { id: string; userId: string | null; email: string },
    visitor: Pick<Visitor, 'ip'>,
  ): Promise<LinkOutcome<{ userId: string }>> {
    const user = row.userId ? await prisma.user.findUnique({ where: { id: row.userId } }) : null;
    // The address changed since the mail was sent, or the account was disabled: the link verifies nothing.
    if (!user || user.email !== row.email || user.disabled) return { ok: false, reason: 'unknown' };
    if (!(await tokens.consume(prisma, row.id))) return { ok: false, reason: 'used' };
    await users.markVerified(user.id);
    await audit.record({
      type: 'user.email_verified',
      actorType: 'user',
      actorId: user.id,
      ip: visitor.ip,
      subject: user.id,
      outcome: 'success',
    });
    return { ok: true, userId: user.id };
  }
}

export type SelfService = ReturnType<typeof createSelfService>;
