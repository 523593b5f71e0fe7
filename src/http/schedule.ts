// The server's timers: purging expired artifacts (and retiring keys past their time, and old audit
// events) on every instance, and rotating signing keys when a schedule is configured.
import type { Logger } from 'pino';
import type { Config } from '../config/index.ts';
import type { Database } from '../db/index.ts';
import { purgeExpiredArtifacts } from '../artifacts/index.ts';
import type { LiveProvider } from '../oidc/index.ts';
import type { Services } from '../services.ts';

/** How often the outbox is checked for mail due again. */
const MAIL_RETRY_TICK_SECONDS = 5;

export interface ScheduleOptions {
  config: Pick<Config, 'purgeIntervalSeconds' | 'auditRetentionDays' | 'keyRotationIntervalSeconds'>;
  db: Pick<Database, 'prisma'>;
  services: Pick<Services, 'keys' | 'audit' | 'clients' | 'outbox' | 'accountTokens' | 'flashReads' | 'factors'>;
  live: Pick<LiveProvider, 'refresh'>;
  logger: Logger;
}

export interface Schedule {
  stop(): void;
}

export function startSchedule({ config, db, services, live, logger }: ScheduleOptions): Schedule {
  const timers: NodeJS.Timeout[] = [];
  // A failed run is logged and tried again at the next tick; the timers never keep the process up.
  const every = (seconds: number, what: string, work: () => Promise<unknown>) => {
    const timer = setInterval(() => {
      work().catch((error: unknown) => logger.warn({ err: error }, `${what} failed`));
    }, seconds * 1000);
    timer.unref();
    timers.push(timer);
  };
  every(config.purgeIntervalSeconds, 'purging expired artifacts', async () => {
    const purged = await purgeExpiredArtifacts(db.prisma);
    if (purged) logger.debug({ purged }, 'purged expired artifacts');
    await services.clients.registrationTokens.purgeExpired();
    if ((await services.keys.retireExpired()).length) await live.refresh();
    await services.audit.purgeBefore(new Date(Date.now() - config.auditRetentionDays * 86_400_000));
    await services.outbox.purge();
    await services.accountTokens.purge();
    await services.flashReads.purge();
    await services.factors.purgeExpired();
  });
  // Mail that could not be sent at once (the mail server down) is retried with backoff (src/mail).
  every(MAIL_RETRY_TICK_SECONDS, 'sending mail', () => services.outbox.flush());
  if (config.keyRotationIntervalSeconds > 0) {
    // Checked often enough to be on time; the rotation itself is conditioned on the key state,
    // so several instances checking at once rotate once.
    every(Math.min(config.keyRotationIntervalSeconds / 10, 3600), 'scheduled key rotation', async () => {
      const rotated = await services.keys.rotateIfDue(config.keyRotationIntervalSeconds);
      if (rotated) {
        logger.info({ ...rotated }, 'rotated signing keys on schedule');
        await live.refresh();
      }
    });
  }
  logger.debug(
    { purgeIntervalSeconds: config.purgeIntervalSeconds, keyRotationIntervalSeconds: config.keyRotationIntervalSeconds },
    'timers started: purge and scheduled key rotation',
  );
  return {
    stop() {
      for (const timer of timers) clearInterval(timer);
    },
  };
}
