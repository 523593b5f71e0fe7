// The service layer on a fresh, migrated database, without HTTP: for table-driven tests of the
// rules (clients, users, resources, grants, API keys). One call per test file.
import { loadConfig, type Config } from '../../src/config/index.ts';
import { migrate, openDatabase, type Database } from '../../src/db/index.ts';
import { createServices, type Services } from '../../src/services.ts';
import { createTestDatabase } from './database.ts';
import { testPepper } from './server.ts';

export interface TestServices {
  services: Services;
  config: Config;
  db: Database;
  stop(): Promise<void>;
}

export async function startServices(env: Record<string, string> = {}): Promise<TestServices> {
  const testDatabase = await createTestDatabase();
  const config = loadConfig({
    NODE_ENV: 'test',
    ISSUER: 'http://127.0.0.1:3000',
    DATABASE_URL: testDatabase.url,
    HASH_PEPPER: testPepper,
    LOG_LEVEL: 'silent',
    ...env,
  });
  await migrate(config.databaseUrl);
  const db = openDatabase(config.databaseUrl, config);
  const services = createServices({ config, db });
  return {
    services,
    config,
    db,
    async stop() {
      await services.close();
      await db.close();
      await testDatabase.drop();
    },
  };
}
