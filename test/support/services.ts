// The service layer on a fresh, migrated database, without HTTP: for table-driven tests of the
// rules (clients, users, resources, grants, API keys). One call per test file.
import { loadConfig, type Config } from '../../src/config/index.ts';
import { migrate, openDatabase, type Database } from '../../src/db/index.ts';
import { InputError } from '../../src/errors/index.ts';
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

/** The audit events `change` wrote (every earlier event left out). */
export async function eventsOf(running: Pick<TestServices, 'db'>, change: () => Promise<unknown>) {
  const before = new Set((await running.db.prisma.auditEvent.findMany({ select: { id: true } })).map((event) => event.id));
  await change();
  return (await running.db.prisma.auditEvent.findMany()).filter((event) => !before.has(event.id));
}

/** The field an InputError names, or undefined when the call succeeded; anything else is thrown. */
export async function refusedField(call: Promise<unknown>): Promise<string | undefined> {
  try {
    await call;
  } catch (error) {
    if (error instanceof InputError) return error.field;
    throw error;
  }
  return undefined;
}
