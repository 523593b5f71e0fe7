// Prisma CLI configuration for the PostgreSQL schema (generate, migrate diff/status).
// The adapter gets separate connection fields, not a connection string: the adapter builds
// its shadow database by overriding `database`, which a connection string would win over.
import path from 'node:path';
import { defineConfig } from 'prisma/config';
import { PrismaPg } from '@prisma/adapter-pg';
import { unrefLongTimers } from '../unref-timers.ts';

unrefLongTimers();
const url = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');

export default defineConfig({
  experimental: { adapter: true },
  engine: 'js',
  schema: path.join(import.meta.dirname),
  migrations: { path: path.join(import.meta.dirname, 'migrations') },
  adapter: async () =>
    new PrismaPg({
      host: url.hostname,
      port: Number(url.port || 5432),
      user: decodeURIComponent(url.username || 'postgres'),
      password: decodeURIComponent(url.password),
      database: url.pathname.slice(1) || 'postgres',
    }),
});
