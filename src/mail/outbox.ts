// The mail outbox. A mail is written to the OutboxMessage table in the same transaction as the
// action it belongs to (a sign-up, a reset request), so neither can exist without the other, and
// sent after commit: at once when the caller says so (`kick`), and again on a timer for what
// failed. Sending is claimed row by row with a conditional update, so of several instances
// (or two timers) only one sends a mail. A failed send is retried with backoff and, after the
// last attempt, given up and logged; the person saw the same page either way.
//
// The message may hold a one-time link: it is sealed (AES-256-GCM, src/crypto) under the
// KEY_ENCRYPTION_KEY, so a database dump cannot read it, and erased once sent or given up, with
// the address it went to (the row stays a week as a record of what was sent, and of nothing else).
//
// An intent is a row of the same table whose purpose starts with `intent:`: work a request
// promised before answering (a sign-up, a forgotten password), written before the answer so
// that neither a crash nor a database error after it loses the work. Resolving it calls the
// handler registered for its kind (`handle`) with its sealed payload instead of the transport,
// under the same claim, retries and backoff as a mail; resolved, it is erased like a sent mail.
// A handler must be safe to run again (its work was done but not yet marked, then a crash):
// the mail it writes is keyed to the intent's id.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { keyedHash, seal, unseal } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import type { Mail, MailTransport } from './transport.ts';

export interface OutboxOptions {
  prisma: Prisma;
  transport: MailTransport;
  logger: Logger;
  provider: 'sqlite' | 'postgres';
  /** Seals messages at rest (the server's KEY_ENCRYPTION_KEY, base64url) ... */
  sealingKey: string;
  /** ... with the pepper. */
  pepper: string;
}

/** Seconds before each retry: 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h; then given up (about 16 h in all). */
export const RETRY_DELAYS_SECONDS = [30, 120, 600, 1800, 3600, 7200, 14_400, 28_800];
/** How long an instance holds a mail it is sending before another may try it. */
const CLAIM_SECONDS = 60;
/** Sent mails' rows (with their message erased) are kept this long, then deleted. */
const KEEP_SENT_DAYS = 7;

type Writer = Pick<Prisma, 'outboxMessage'>;

/** The purpose of an intent of kind K is `intent:K`. */
const INTENT = 'intent:';

/** Resolves one intent: `id` is stable across retries (a key for what it writes); throws to be retried. */
export type IntentHandler = (intent: { id: string; address: string; payload: unknown }) => Promise<void>;

/** An intent of a kind no handler was registered for in this process (retried: another may know it). */
class NoHandler extends Error {
  override name = 'NoHandler';
}

/**
 * What is kept and logged of a failed send: the SMTP reply's code and nodemailer's error code and
 * command ("550 EENVELOPE RCPT"), never its text, which names the recipient ("550 5.1.1
 * <ada@example.com>: Recipient address rejected") and would outlive the address.
 */
export function failureOf(error: unknown): string {
  const { responseCode, code, command } = (error ?? {}) as { responseCode?: unknown; code?: unknown; command?: unknown };
  const parts = [responseCode, code, command].filter(
    (part) => typeof part === 'number' || (typeof part === 'string' && /^[A-Z0-9 _-]{1,40}$/i.test(part)),
  );
  return parts.length ? parts.join(' ') : error instanceof Error ? error.name : 'unknown failure';
}

export function createOutbox({ prisma, provider, transport, logger, sealingKey, pepper }: OutboxOptions) {
  const context = 'mail-outbox';
  let running: Promise<number> | undefined;
  let again = false;
  const handlers = new Map<string, IntentHandler>();

  async function sendOne(id: string): Promise<boolean> {
    const now = new Date();
    // Claim it: only one sender gets count 1.
    const { count } = await prisma.outboxMessage.updateMany({
      where: { id, sentAt: null, failedAt: null, OR: [{ claimedUntil: null }, { claimedUntil: { lt: now } }] },
      data: { claimedUntil: new Date(now.getTime() + CLAIM_SECONDS * 1000) },
    });
    if (count !== 1) return false;
    const row = await prisma.outboxMessage.findUnique({ where: { id } });
    if (!row) return false;
    const opened = unseal(sealingKey, pepper, context, row.sealed);
    if (!opened) {
      await prisma.outboxMessage.update({
        where: { id },
        data: { failedAt: new Date(), lastError: 'the message cannot be unsealed (KEY_ENCRYPTION_KEY changed?)', sealed: '', to: '' },
      });
      logger.error({ mail: id, purpose: row.purpose }, 'mail dropped: it cannot be unsealed');
      return false;
    }
    const intent = row.purpose.startsWith(INTENT);
    const what = intent ? 'intent' : 'mail';
    try {
      if (intent) {
        const handler = handlers.get(row.purpose.slice(INTENT.length));
        if (!handler) throw new NoHandler();
        await handler({ id, address: row.to, payload: JSON.parse(opened) as unknown });
      } else {
        const message = JSON.parse(opened) as Omit<Mail, 'to' | 'purpose'>;
        await transport.send({ to: row.to, purpose: row.purpose, ...message });
      }
      await prisma.outboxMessage.update({
        where: { id },
        data: { sentAt: new Date(), sealed: '', to: '', attempts: row.attempts + 1, claimedUntil: null, lastError: null },
      });
      return true;
    } catch (error) {
      const attempts = row.attempts + 1;
      const delay = RETRY_DELAYS_SECONDS[attempts - 1];
      const reason = failureOf(error);
      if (delay === undefined) {
        await prisma.outboxMessage.update({
          where: { id },
          data: { attempts, failedAt: new Date(), sealed: '', to: '', claimedUntil: null, lastError: reason },
        });
        logger.error({ mail: id, purpose: row.purpose, attempts, reason }, `${what} given up after the last attempt`);
      } else {
        await prisma.outboxMessage.update({
          where: { id },
          data: { attempts, nextAttemptAt: new Date(Date.now() + delay * 1000), claimedUntil: null, lastError: reason },
        });
        logger.warn(
          { mail: id, purpose: row.purpose, attempts, retryInSeconds: delay, reason },
          intent ? 'intent not resolved; will retry' : 'mail not sent; will retry',
        );
      }
      return false;
    }
  }

  async function sendDue(): Promise<number> {
    const due = await prisma.outboxMessage.findMany({
      where: { sentAt: null, failedAt: null, nextAttemptAt: { lte: new Date() } },
      orderBy: { createdAt: 'asc' },
      take: 50,
      select: { id: true },
    });
    let sent = 0;
    for (const { id } of due) if (await sendOne(id)) sent += 1;
    return sent;
  }

  /** Sends what is due; one run at a time in this process (a kick during a run runs again after it). */
  function flush(): Promise<number> {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      let sent = 0;
      do {
        again = false;
        sent += await sendDue();
      } while (again);
      return sent;
    })().finally(() => {
      running = undefined;
    });
    return running;
  }

  return {
    /**
     * Writes a mail to the outbox with `writer` (the action's own transaction, or the client).
     * With a `dedupeKey`, a second mail of the same key is not written: returns false.
     */
    async enqueue(writer: Writer, mail: Mail, dedupeKey?: string): Promise<boolean> {
      const sealed = seal(sealingKey, pepper, context, JSON.stringify({ subject: mail.subject, text: mail.text, html: mail.html }));
      const data = {
        id: crypto.randomUUID(),
        to: mail.to,
        purpose: mail.purpose,
        sealed,
        ...(dedupeKey ? { dedupeKey: keyedHash(pepper, `mail:${dedupeKey}`) } : {}),
      };
      if (!dedupeKey) {
        await writer.outboxMessage.create({ data });
        return true;
      }
      // A unique key: of two identical requests, the second writes nothing. ON CONFLICT DO
      // NOTHING (createMany's skipDuplicates) on PostgreSQL, where a failed insert would abort the
      // caller's transaction; SQLite writes one transaction at a time, so a read finds the first.
      if (provider === 'postgres') {
        // The shared client type is SQLite's, which has no skipDuplicates; PostgreSQL's client does.
        const postgres = writer.outboxMessage as unknown as {
          createMany(args: { data: (typeof data)[]; skipDuplicates: true }): Promise<{ count: number }>;
        };
        const { count } = await postgres.createMany({ data: [data], skipDuplicates: true });
        return count === 1;
      }
      const existing = await writer.outboxMessage.findUnique({ where: { dedupeKey: data.dedupeKey! }, select: { id: true } });
      if (existing) return false;
      await writer.outboxMessage.create({ data });
      return true;
    },
    /**
     * Writes an intent of `kind` for `address` with `writer`: one row, sealed like a mail (the
     * payload may hold nothing secret beyond what the work needs), resolved by the handler of
     * its kind. No dedupe key: each request is its own intent (its handler keeps a retried
     * request from doing the work twice).
     */
    async intend(writer: Writer, kind: string, address: string, payload: unknown): Promise<void> {
      await writer.outboxMessage.create({
        data: {
          id: crypto.randomUUID(),
          to: address,
          purpose: `${INTENT}${kind}`,
          sealed: seal(sealingKey, pepper, context, JSON.stringify(payload)),
        },
      });
    },
    /** Registers what resolves intents of `kind` (every process that may flush the outbox registers the same). */
    handle(kind: string, handler: IntentHandler): void {
      handlers.set(kind, handler);
    },
    /** After commit: send what is due now, without waiting (failures are retried by the timer). */
    kick(): void {
      flush().catch((error: unknown) => logger.warn({ err: error }, 'sending mail failed'));
    },
    flush,
    /** Deletes sent and given-up mails older than a week; returns how many. */
    async purge(): Promise<number> {
      const before = new Date(Date.now() - KEEP_SENT_DAYS * 86_400_000);
      const { count } = await prisma.outboxMessage.deleteMany({
        where: { OR: [{ sentAt: { lt: before } }, { failedAt: { lt: before } }] },
      });
      return count;
    },
    /** Waiting and given-up mails, for /readyz-style checks and tests. */
    async pending(): Promise<{ waiting: number; failed: number }> {
      const [waiting, failed] = await Promise.all([
        prisma.outboxMessage.count({ where: { sentAt: null, failedAt: null } }),
        prisma.outboxMessage.count({ where: { failedAt: { not: null } } }),
      ]);
      return { waiting, failed };
    },
  };
}

export type Outbox = ReturnType<typeof createOutbox>;
