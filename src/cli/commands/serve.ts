// `portcullis serve`: apply migrations and serve HTTP until asked to stop. Its output is the
// server's log, always JSON lines, so it takes no --json.
import type { Command } from 'commander';
import pino from 'pino';
import { loadConfig } from '../../config/index.ts';
import { migrate, openDatabase } from '../../db/index.ts';
import { createServer } from '../../http/index.ts';
import type { CliIo } from '../io.ts';

export function addServeCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('apply migrations and serve HTTP (what `npm start` runs)')
    .action(() => serve(io));
}

async function serve(io: CliIo): Promise<void> {
  const config = loadConfig(io.env);
  // Lines are written at once (pino's default): measured here, buffering them (pino's
  // minLength) cost more CPU per request than the write(2) it saves (bench/RESULTS.md).
  const logger = io.logger ?? pino({ level: config.logLevel, base: { service: 'portcullis' } });
  if (config.developmentSecretsInUse.length)
    logger.warn(
      { variables: config.developmentSecretsInUse },
      'using the built-in development secrets, which are public: fine on this machine, never for a server others can reach',
    );
  const migrated = await migrate(config.databaseUrl);
  if (migrated.applied.length) logger.info({ applied: migrated.applied }, 'applied database migrations');
  const db = openDatabase(config.databaseUrl, config);
  const server = await createServer({ config, db, logger });
  const { url, port } = await server.listen();
  logger.info({ url, port, issuer: config.issuer, database: db.displayUrl }, 'listening');
  await (io.untilStopped?.() ?? new Promise<void>(() => undefined));
  logger.info('shutting down');
  await server.close();
  await db.close();
}
