// What a person changes about themselves on the account page: their name and their password.
// The password rule is the one of every surface (src/users passwordProblem); changing it needs
// the current one (checked by the page, with the login limits) and ends everything the person
// holds except the browser they changed it in, as a reset does for all of them. As after a
// reset, a notice goes to the address: someone who changed it from a session left open is seen.
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { hashPassword } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { composeMail, type Outbox } from '../mail/index.ts';
import type { Views } from '../templates/index.ts';
import { nameProblem, passwordProblem, type NameProblem, type PasswordProblem } from '../users/index.ts';
import type { SessionService } from './sessions.ts';

export interface ProfileOptions {
  prisma: Prisma;
  audit: AuditLog;
  sessions: SessionService;
  views: Views;
  outbox: Outbox;
  issuer: string;
}

export function createProfileService({ prisma, audit, sessions, views, outbox, issuer }: ProfileOptions) {
  return {
    /** Sets (or, empty, clears) the person's name. Returns the problem, if any; nothing is written then. */
    async setName(userId: string, input: string, actor: Actor): Promise<NameProblem | undefined> {
      const name = input.trim();
      const problem = nameProblem(name);
      if (problem) return problem;
      const before = await prisma.user.findUnique({ where: { id: userId }, select: { name: true } });
      if (!before || (before.name ?? '') === name) return undefined;
      await prisma.user.update({ where: { id: userId }, data: { name: name || null } });
      await audit.record({
        type: 'user.updated',
        ...actorFields(actor),
        subject: userId,
        outcome: 'success',
        details: { fields: ['name'] },
      });
      return undefined;
    },

    /**
     * Sets a new password (the caller checked the current one). Returns the rule's problem, if any.
     * Every other session, grant and token of the person ends; `currentSessionId` stays.
     */
    async changePassword(
      userId: string,
      password: string,
      currentSessionId: string,
      actor: Actor,
      lang = 'en',
    ): Promise<PasswordProblem | undefined> {
      const user = await prisma.user.findUnique({ where: { id: userId }, select: { email: true, name: true, locale: true } });
      if (!user) return undefined;
      const problem = passwordProblem(password, user.email);
      if (problem) return problem;
      const passwordHash = await hashPassword(password);
      // The notice is written with the change (the outbox's transaction), so neither is without the other.
      const notice = composeMail(views, {
        template: 'password-changed',
        to: user.email,
        lang: user.locale ?? lang,
        data: { name: user.name, url: new URL('/forgot-password', issuer).href, fromAccount: true },
      });
      await prisma.$transaction(async (tx) => {
        await tx.user.update({ where: { id: userId }, data: { passwordHash } });
        await outbox.enqueue(tx, notice);
      });
      outbox.kick();
      const ended = await sessions.endAllBut(userId, currentSessionId);
      await audit.record({
        type: 'user.password_changed',
        ...actorFields(actor),
        subject: userId,
        outcome: 'success',
        details: { sessions_and_tokens_ended: ended },
      });
      return undefined;
    },
  };
}

export type ProfileService = ReturnType<typeof createProfileService>;
