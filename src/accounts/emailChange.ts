// Changing the email address of an account. The new address must show it receives mail first:
// a link (AccountToken, purpose change_email, 24 h, single use) goes to it, and a notice goes to
// the old one, so the owner learns of a change they did not make. Until the link is followed the
// account keeps its old address, still verified; following it makes the new address the login
// name and `email` claim with `email_verified` true. So `email_verified` is never true for an
// address nobody confirmed, and a typing mistake cannot lock anyone out (with
// EMAIL_VERIFICATION=required an unverified address could not sign in).
//
// Whether the new address already belongs to another account is never told: the page and the
// mails read the same either way, and no link is made for a taken address.
//
// The `user.email_changed` event names the address it replaced (`previous_email`): the audit rows
// of failed logins typed with that address are the person's too, and when the account is deleted
// (deletion.ts) they, and that detail, are replaced by a pseudonym like those of the last address.
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, fromDatabaseError } from '../errors/index.ts';
import { composeMail, type Outbox } from '../mail/index.ts';
import { hasControlCharacters } from '../oauth/index.ts';
import type { Views } from '../templates/index.ts';
import { MAX_EMAIL_LENGTH, normalizeEmail } from '../users/index.ts';
import { RETRY_WINDOW_SECONDS, type AccountTokens } from './tokens.ts';

export type EmailChangeRequest = { ok: true; email: string } | { ok: false; problem: 'invalid' | 'same' };
export type EmailChangeResult = { ok: true; email: string } | { ok: false; reason: 'unknown' | 'used' | 'expired' | 'taken' };

// Loose on purpose, as for accounts (src/users): the real test of an address is the mail.
const emailPattern = /^[^\s@]+@[^\s@]+$/;

/** `ada@example.org` as `a•••@example.org`: enough for its owner to recognise, not to harvest. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at < 1) return '•••';
  return `${email[0]}•••${email.slice(at)}`;
}

/** An address the account had before, and when it stopped being its address. */
export interface EarlierAddress {
  email: string;
  until: Date;
}

/** The addresses `userId` had before the present one (from its `user.email_changed` events), oldest first. */
export async function earlierAddresses(prisma: Prisma, userId: string): Promise<EarlierAddress[]> {
  const changes = await prisma.auditEvent.findMany({
    where: { type: 'user.email_changed', subject: userId },
    orderBy: { at: 'asc' },
    select: { at: true, details: true },
  });
  const found: EarlierAddress[] = [];
  for (const { at, details } of changes) {
    const email = (details as { previous_email?: unknown } | null)?.previous_email;
    // A pseudonym (an account deleted and its log kept) is no address.
    if (typeof email === 'string' && email.includes('@')) found.push({ email, until: at });
  }
  return found;
}

export interface EmailChangeOptions {
  prisma: Prisma;
  audit: AuditLog;
  views: Views;
  outbox: Outbox;
  accountTokens: AccountTokens;
  issuer: string;
}

export function createEmailChange({ prisma, audit, views, outbox, accountTokens, issuer }: EmailChangeOptions) {
  const confirmLink = (token: string) => `${new URL('/account/email/confirm', issuer).href}?token=${encodeURIComponent(token)}`;

  return {
    /**
     * Asks for `input` to become the person's address: a link to it, a notice to the old one.
     * `lang` is the language of the mails when the person chose none.
     */
    async request(userId: string, input: string, actor: Actor, lang: string): Promise<EmailChangeRequest> {
      const email = normalizeEmail(input);
      if (!emailPattern.test(email) || email.length > MAX_EMAIL_LENGTH || hasControlCharacters(email))
        return { ok: false, problem: 'invalid' };
      const user = await prisma.user.findUnique({ where: { id: userId } });
      if (!user) return { ok: false, problem: 'invalid' };
      if (user.email === email) return { ok: false, problem: 'same' };
      const taken = Boolean(await prisma.user.findUnique({ where: { email }, select: { id: true } }));
      const language = user.locale ?? lang;
      // A request repeated at once (a double click, a retry) sends nothing more, and the first
      // mail's link keeps working: a new link would end it (tokens.issue keeps only the newest).
      await prisma.$transaction(async (tx) => {
        if (await accountTokens.justIssued(tx, 'change_email', userId, email)) return;
        let action = `taken:${Math.floor(Date.now() / (RETRY_WINDOW_SECONDS * 1000))}`;
        if (!taken) {
          const { id, token, expiresAt } = await accountTokens.issue(tx, { purpose: 'change_email', email, userId, name: user.name });
          action = id;
          const mail = composeMail(views, {
            template: 'email-change',
            to: email,
            lang: language,
            // No name: whoever reads the new address never vouched for what the account calls itself.
            data: { name: null, link: confirmLink(token), expiresAt },
          });
          await outbox.enqueue(tx, mail, `email-change:${id}`);
        }
        const notice = composeMail(views, {
          template: 'email-changed',
          to: user.email,
          lang: language,
          data: { name: user.name, newEmail: maskEmail(email) },
        });
        // One notice per link (or, for an address that is taken, per minute: no link to key it to).
        await outbox.enqueue(tx, notice, `email-changed:${userId}:${email}:${action}`);
      });
      outbox.kick();
      // The event names no address: nothing has changed yet (the confirmation's event names the old one).
      await audit.record({ type: 'user.email_change_requested', ...actorFields(actor), subject: userId, outcome: 'success' });
      return { ok: true, email };
    },

    /** Whether a presented link can be used (for the page that asks to confirm it). Changes nothing. */
    async check(token: unknown): Promise<EmailChangeResult> {
      const checked = await accountTokens.check('change_email', token);
      if (!checked.ok) return { ok: false, reason: checked.reason };
      return { ok: true, email: checked.row.email };
    },

    /** Follows the link: the new address becomes the account's, verified. Once. */
    async confirm(token: unknown, ip?: string): Promise<EmailChangeResult> {
      const checked = await accountTokens.check('change_email', token);
      if (!checked.ok) return { ok: false, reason: checked.reason };
      const { row } = checked;
      if (!row.userId) return { ok: false, reason: 'unknown' };
      const userId = row.userId;
      // Someone may sign up with the address between the read and the write: the unique
      // constraint refuses the write, and that is the same answer as a taken address.
      let previous: string | undefined;
      const outcome = await prisma
        .$transaction(async (tx): Promise<EmailChangeResult> => {
          if (await tx.user.findUnique({ where: { email: row.email }, select: { id: true } })) return { ok: false, reason: 'taken' };
          const before = await tx.user.findUnique({ where: { id: userId }, select: { email: true } });
          if (!before) return { ok: false, reason: 'unknown' };
          if (!(await accountTokens.consume(tx, row.id))) return { ok: false, reason: 'used' };
          const { count } = await tx.user.updateMany({
            where: { id: userId },
            data: { email: row.email, emailVerified: true, emailVerifiedAt: new Date() },
          });
          previous = before.email;
          return count === 1 ? { ok: true, email: row.email } : { ok: false, reason: 'unknown' };
        })
        .catch((error: unknown): EmailChangeResult => {
          if (fromDatabaseError(error) instanceof ConflictError) return { ok: false, reason: 'taken' };
          throw error;
        });
      if (outcome.ok) {
        await audit.record({
          type: 'user.email_changed',
          actorType: 'user',
          actorId: userId,
          subject: userId,
          ...(ip ? { ip } : {}),
          outcome: 'success',
          ...(previous ? { details: { previous_email: previous } } : {}),
        });
      }
      return outcome;
    },
  };
}

export type EmailChange = ReturnType<typeof createEmailChange>;
