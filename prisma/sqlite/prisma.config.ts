// Prisma CLI configuration for the SQLite schema (generate, migrate diff/status).
// Runs offline: the JavaScript engine with a driver adapter needs no downloaded binary.
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaBetterSQLite3 } from '@prisma/adapter-better-sqlite3';
import { unrefLongTimers } from '../unref-timers.ts';

unrefLongTimers();
const url = process.env.DATABASE_URL ?? 'file:./data/portcullis.db';

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join(import.meta.dirname),
  migrations: { path: path.join(import.meta.dirname, 'migrations') },
  adapter: async () => new PrismaBetterSQLite3({ url }),
});
