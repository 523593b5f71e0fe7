#!/usr/bin/env node
// Runs the Prisma CLI once per database provider (SQLite and PostgreSQL share one set of
// models but each has its own schema folder, generated client and migration history).
//
//   node scripts/prisma.mjs generate             generate both clients into src/generated/
//   node scripts/prisma.mjs migration NAME       write a new migration folder for each provider
//                                                (the SQL that takes the existing history to the models)
//
// Migrations are applied by Portcullis itself (`portcullis migrate`, and on start).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const providers = {
  sqlite: { url: 'file::memory:' },
  postgres: { url: process.env.POSTGRES_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres' },
};

function prisma(provider, args, options = {}) {
  const result = spawnSync(
    process.execPath,
    [path.join(root, 'node_modules/prisma/build/index.js'), ...args, '--config', `prisma/${provider}/prisma.config.ts`],
    {
      cwd: root,
      // Without DATABASE_URL the CLI falls back to a native engine it would have to download.
      env: { ...process.env, DATABASE_URL: providers[provider].url, PRISMA_HIDE_UPDATE_MESSAGE: '1' },
      stdio: ['ignore', options.capture ? 'pipe' : 'inherit', options.quiet ? 'pipe' : 'inherit'],
      encoding: 'utf8',
    },
  );
  if (result.status !== 0) {
    if (options.quiet) process.stderr.write(`${result.stdout ?? ''}${result.stderr ?? ''}`);
    console.error(`prisma ${args.join(' ')} failed for ${provider}`);
    process.exit(result.status ?? 1);
  }
  return result.stdout;
}

const [command, name] = process.argv.slice(2);
if (command === 'generate') {
  // Quiet unless it fails: this runs on every `npm install` and `npm start`.
  for (const provider of Object.keys(providers)) prisma(provider, ['generate'], { capture: true, quiet: true });
} else if (command === 'migration' && name && /^[a-z0-9_]+$/.test(name)) {
  // A migration is the difference between prisma/snapshot (the models as of the newest
  // migration) and prisma/models, computed schema-to-schema for each provider. Prisma's
  // `--from-migrations` would replay history into a shadow database through the driver
  // adapter, which fails on this path (multi-statement scripts on SQLite, prisma/orm#27403
  // on PostgreSQL); a schema-to-schema diff needs no database at all.
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  const snapshot = path.join(root, 'prisma', 'snapshot');
  const models = path.join(root, 'prisma', 'models');
  let wrote = false;
  for (const provider of Object.keys(providers)) {
    const migrations = path.join(root, 'prisma', provider, 'migrations');
    fs.mkdirSync(migrations, { recursive: true });
    const hasHistory = fs.readdirSync(migrations).some((entry) => /^\d{14}_/.test(entry));
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-schema-'));
    try {
      fs.copyFileSync(path.join(root, 'prisma', provider, 'schema.prisma'), path.join(scratch, 'schema.prisma'));
      fs.cpSync(snapshot, path.join(scratch, 'models'), { recursive: true });
      const from = hasHistory ? ['--from-schema-datamodel', scratch] : ['--from-empty'];
      const sql = prisma(provider, ['migrate', 'diff', ...from, '--to-schema-datamodel', `prisma/${provider}`, '--script'], {
        capture: true,
      });
      if (!/\S/.test(sql.replace(/^--.*$/gm, ''))) {
        console.log(`${provider}: models and migrations already agree; nothing written`);
        continue;
      }
      const folder = path.join(migrations, `${stamp}_${name}`);
      fs.mkdirSync(folder);
      fs.writeFileSync(path.join(folder, 'migration.sql'), sql);
      wrote = true;
      console.log(`${provider}: wrote ${path.relative(root, folder)}/migration.sql`);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
    fs.writeFileSync(
      path.join(migrations, 'migration_lock.toml'),
      `# Written by scripts/prisma.mjs; do not edit.\nprovider = "${provider === 'postgres' ? 'postgresql' : 'sqlite'}"\n`,
    );
  }
  if (wrote) {
    fs.rmSync(snapshot, { recursive: true, force: true });
    fs.cpSync(models, snapshot, { recursive: true });
  }
} else {
  console.error('usage: node scripts/prisma.mjs generate | migration NAME');
  process.exit(2);
}
