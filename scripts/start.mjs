#!/usr/bin/env node
// `npm start`: serves from the build made at install (dist/), in this process. It builds again
// only when a source is newer than that build, and says so; where dist/ cannot be written (a
// read-only container), it says the build is stale and serves it anyway.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { staleBecause } from './build-inputs.mjs';
import { requireRecentNode } from './node-version.mjs';

requireRecentNode();
const root = path.resolve(import.meta.dirname, '..');
const main = path.join(root, 'dist', 'cli', 'main.js');
const stale = staleBecause();
if (stale) {
  const writable = (() => {
    try {
      fs.accessSync(fs.existsSync(path.join(root, 'dist')) ? path.join(root, 'dist') : root, fs.constants.W_OK);
      return true;
    } catch {
      return false;
    }
  })();
  if (writable || !fs.existsSync(main)) {
    process.stderr.write(`portcullis: building first (${stale})\n`);
    const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
    if (build.status !== 0) process.exit(build.status ?? 1);
  } else {
    process.stderr.write(`portcullis: the build is older than the sources (${stale}) and dist/ is read-only: serving it as it is\n`);
  }
}
process.argv = [process.argv[0], main, 'serve', ...process.argv.slice(2)];
await import(main);
