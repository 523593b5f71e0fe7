// `portcullis serve`: apply migrations and serve HTTP until asked to stop, in one process or, with
// WORKERS above 1, as a cluster (src/cluster): this process becomes the primary, applies the
// migrations once and forks the workers, each of which runs this same command as a server.
import cluster from 'node:cluster';
import fs from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import type { Logger } from 'pino';
import { loadConfig, type Config } from '../../config/index.ts';
import { databaseProvider, hidePassword, migrate, openDatabase } from '../../db/index.ts';
import type { startCluster } from '../../cluster/index.ts';
import type { CliIo } from '../io.ts';

export function addServeCommand(program: Command, io: CliIo): void {
  program
    .command('serve')
    .description('apply migrations and serve HTTP (what `npm start` runs)')
    .action(() => serve(io));
}

const { version } = JSON.parse(fs.readFileSync(path.resolve(import.meta.dirname, '../../../package.json'), 'utf8')) as { version: string };

async function serve(io: CliIo): Promise<void> {
  const config = loadConfig(io.env);
  const logger = io.logger ?? (await (await import('../logger.ts')).createLogger(config));
  // Loaded here, not at the top: every other command shares this module graph and needs none of it.
  const [{ createServer }, { startCluster, tellPrimary, workerRole }] = await Promise.all([
    import('../../http/index.ts'),
    import('../../cluster/index.ts'),
  ]);
  const worker = workerRole(io.env);
  if (!worker) greet(config, logger);
  if (config.workers > 1 && !worker && cluster.isPrimary) return servePrimary(config, logger, io, startCluster);
  // A worker's primary has applied the migrations already.
  if (!worker) await applyMigrations(config, logger);
  const db = openDatabase(config.databaseUrl, config);
  const server = await createServer({ config, db, logger: worker ? logger.child({ worker: worker.index }) : logger, worker });
  const bound = await server.listen().catch(async (error: unknown) => {
    // Nothing may keep the process alive after a failed start (a PostgreSQL pool would).
    await server.close();
    await db.close();
    throw error;
  });
  if (worker)
    tellPrimary({ portcullis: 'listening', url: bound.url, ...(bound.managementUrl ? { managementUrl: bound.managementUrl } : {}) });
  else listening(config, logger, bound);
  await (io.untilStopped?.() ?? new Promise<void>(() => undefined));
  if (!worker) logger.info('shutting down');
  await server.close();
  await db.close();
}

async function servePrimary(config: Config, logger: Logger, io: CliIo, startCluster: StartCluster): Promise<void> {
  await applyMigrations(config, logger);
  const running = startCluster({
    workers: config.workers,
    logger,
    countLimitsHere: !config.redisUrl,
    untilStopped: () => io.untilStopped?.() ?? new Promise<void>(() => undefined),
  });
  try {
    listening(config, logger, await running.ready);
  } catch {
    // The cluster has logged why and is stopping; `stopped` says how it ended.
  }
  const code = await running.stopped;
  if (code !== 0) throw new Error('the server could not start (see the log above)');
}

type StartCluster = typeof startCluster;

async function applyMigrations(config: Config, logger: Logger): Promise<void> {
  const migrated = await migrate(config.databaseUrl);
  if (migrated.applied.length) logger.info({ applied: migrated.applied }, 'applied database migrations');
  if (migrated.ahead.length)
    logger.warn(
      { ahead: migrated.ahead },
      'the database has migrations of a newer Portcullis (a rolling upgrade in progress?): serving, as releases only add what older versions can ignore',
    );
}

/** The first lines: what is starting, with which database and workers, and what is unwise. */
function greet(config: Config, logger: Logger): void {
  const database = `${hidePassword(config.databaseUrl)} (${databaseProvider(config.databaseUrl) === 'sqlite' ? 'SQLite' : 'PostgreSQL'})`;
  logger.info(
    { version, issuer: config.issuer, database, workers: config.workers, node: process.version, production: config.production },
    `Portcullis ${version} starting: issuer ${config.issuer}, database ${database}, ${config.workers === 1 ? '1 process' : `${config.workers} workers`}`,
  );
  if (config.developmentSecretsInUse.length)
    logger.warn(
      { variables: config.developmentSecretsInUse },
      `using the built-in development secrets (${config.developmentSecretsInUse.join(', ')}), which are public: fine on this machine, never for a server others can reach`,
    );
  for (const warning of config.warnings) logger.warn(warning);
}

function listening(config: Config, logger: Logger, bound: { url: string; port?: number; managementUrl?: string | undefined }): void {
  logger.info(
    {
      url: bound.url,
      port: bound.port,
      issuer: config.issuer,
      workers: config.workers,
      ...(bound.managementUrl ? { management: bound.managementUrl } : {}),
    },
    'listening',
  );
  if (!config.production)
    logger.info(
      `next: open ${config.issuer}/.well-known/openid-configuration, or run \`npx portcullis demo\` for a demo user, an app and a login URL to open`,
    );
}
