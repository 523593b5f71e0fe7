#!/usr/bin/env node
// `npm run build`: the generated Prisma clients, then src/ compiled to dist/, then a stamp that
// says when. It needs only production dependencies (prisma and typescript are dependencies, not
// devDependencies), so `npm ci --omit=dev` builds exactly what `npm install` builds. `npm start`
// compares the stamp with the sources (scripts/build-inputs.mjs) and builds again only when they changed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BUILD_STAMP } from './build-inputs.mjs';
import { requireRecentNode } from './node-version.mjs';

requireRecentNode();
const root = path.resolve(import.meta.dirname, '..');

function run(what, args) {
  const result = spawnSync(process.execPath, args, { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    console.error(`build: ${what} failed`);
    process.exit(result.status ?? 1);
  }
}

run('prisma generate', [path.join(root, 'scripts', 'prisma.mjs'), 'generate']);
run('tsc', [path.join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json']);
fs.writeFileSync(BUILD_STAMP, `${new Date().toISOString()}\n`);
