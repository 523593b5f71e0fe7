// A fresh, empty database for one test file: a SQLite file in a temporary folder, or a new
// PostgreSQL database on the server named by TEST_DATABASE_URL.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';

export interface TestDatabase {
  provider: 'sqlite' | 'postgres';
  url: string;
  drop(): Promise<void>;
}

export function testDatabaseProvider(): 'sqlite' | 'postgres' {
  return process.env.PORTCULLIS_TEST_DATABASE === 'postgres' ? 'postgres' : 'sqlite';
}

export async function createTestDatabase(): Promise<TestDatabase> {
  if (testDatabaseProvider() === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-test-'));
    return {
      provider: 'sqlite',
      url: `file:${path.join(dir, 'portcullis.db')}`,
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('the postgres project needs TEST_DATABASE_URL');
  const name = `portcullis_test_${crypto.randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    provider: 'postgres',
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: serverUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}
