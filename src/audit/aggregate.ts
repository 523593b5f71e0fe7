// Aggregated audit events: for events an attacker can cause in bulk (failed API-key checks,
// blocked logins), one row per key (say, a key prefix and a source address) per window, with a
// count, rather than a row per request. A flood then costs the audit table a row a minute per
// source, not a row per request (RFC 6749 section 10.10 on guessing; OWASP logging cheat sheet on
// log flooding). Counts are kept in memory and written when the window ends and on close.
import type { AuditEventInput, AuditLog } from './audit.ts';

export interface AuditAggregator {
  /** Counts one occurrence of `event` under `key`; the first of a window fixes its fields. */
  count(key: string, event: AuditEventInput): void;
  /** Writes every open window now (on close, and for tests that read the log). */
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** At most this many open windows are held; past it they are written early. */
const MAX_OPEN = 10_000;

export function createAuditAggregator(audit: AuditLog, { windowMs = 60_000 }: { windowMs?: number } = {}): AuditAggregator {
  let open = new Map<string, { event: AuditEventInput; count: number; first: Date; last: Date }>();

  async function flush(): Promise<void> {
    const closing = open;
    open = new Map();
    for (const { event, count, first, last } of closing.values()) {
      await audit.record({
        ...event,
        details: { ...event.details, count, first_at: first.toISOString(), last_at: last.toISOString() },
      });
    }
  }
  const timer = setInterval(() => void flush().catch(() => undefined), windowMs);
  timer.unref();

  return {
    count(key, event) {
      const now = new Date();
      const entry = open.get(key);
      if (entry) {
        entry.count += 1;
        entry.last = now;
        return;
      }
      open.set(key, { event, count: 1, first: now, last: now });
      if (open.size >= MAX_OPEN) void flush().catch(() => undefined);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
