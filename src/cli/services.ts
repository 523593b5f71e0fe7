// The service layer as a command sees it: opened on the configured database (brought up to date
// first) for one command, and closed after it whatever happens.
import { loadConfig, type Config } from '../config/index.ts';
import { migrate, openDatabase } from '../db/index.ts';
import { createServices, type Services } from '../services.ts';
import type { CliIo } from './io.ts';

/** Opens the configured database, brings it up to date, runs `work` with the services, and closes it. */
export async function withServices<T>(io: CliIo, work: (services: Services, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(io.env);
  await migrate(config.databaseUrl);
  const db = openDatabase(config.databaseUrl);
  const services = createServices({ config, db });
  try {
    return await work(services, config);
  } finally {
    await services.close();
    await db.close();
  }
}
