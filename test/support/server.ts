// Starts a whole Portcullis server over real HTTP on 127.0.0.1 and an ephemeral port, on a
// fresh database of the provider under test. One call per test file.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { loadConfig, type Config } from '../../src/config/index.ts';
import { migrate, openDatabase, type Database } from '../../src/db/index.ts';
import { createServer, type Server } from '../../src/http/index.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export const testPepper = 'test-pepper-0123456789abcdef0123456789';

export interface RunningServer {
  url: string;
  config: Config;
  db: Database;
  server: Server;
  httpServer: http.Server;
  testDatabase: TestDatabase;
  /** Environment for running the CLI against this server's database. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

/**
 * `logs`: when given, every log line (at debug level) is collected there. `localhost`: the issuer
 * is http://localhost:PORT (still listening on 127.0.0.1), as a browser test of passkeys needs:
 * WebAuthn refuses an IP address as the rp id.
 */
export async function startServer(
  env: Record<string, string> = {},
  { logs, localhost = false }: { logs?: string[]; localhost?: boolean } = {},
): Promise<RunningServer> {
  const testDatabase = await createTestDatabase();
  const httpServer = http.createServer();
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  const url = `http://${localhost ? 'localhost' : '127.0.0.1'}:${(httpServer.address() as AddressInfo).port}`;
  const fullEnv = { NODE_ENV: 'test', ISSUER: url, DATABASE_URL: testDatabase.url, HASH_PEPPER: testPepper, LOG_LEVEL: 'silent', ...env };
  const config = loadConfig(fullEnv);
  await migrate(config.databaseUrl);
  const db = openDatabase(config.databaseUrl, config);
  const logger = logs ? pino({ level: 'debug' }, { write: (line: string) => void logs.push(line) }) : pino({ level: config.logLevel });
  const server = await createServer({ config, db, logger });
  server.attach(httpServer);
  return {
    url,
    config,
    db,
    server,
    httpServer,
    testDatabase,
    env: fullEnv,
    async stop() {
      await server.close();
      await db.close();
      await testDatabase.drop();
    },
  };
}

export interface SecondInstance {
  /** Where it listens (127.0.0.1, an ephemeral port); its issuer is the first server's. */
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * A second Portcullis on a running server's database, pepper and public issuer, as behind a load
 * balancer: what one instance writes or forgets, the other must see. Stop it before the first.
 */
export async function startSecondInstance(first: Pick<RunningServer, 'env'>): Promise<SecondInstance> {
  const config = loadConfig(first.env);
  const db = openDatabase(config.databaseUrl, config);
  const server = await createServer({ config, db, logger: pino({ level: 'silent' }) });
  const httpServer = http.createServer();
  await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
  server.attach(httpServer);
  const port = (httpServer.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    async stop() {
      await server.close();
      httpServer.close();
      await db.close();
    },
  };
}
