#!/usr/bin/env node
// Runs after `npm install` / `npm ci` (with or without --omit=dev): builds, then links the
// `portcullis` command into node_modules/.bin. npm links the bins of dependencies there but not
// the project's own, and without the link `npx portcullis` asks the registry for a package of
// that name before it falls back to this one (seconds, and a different package if one is ever
// published under the name).
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

const root = path.resolve(import.meta.dirname, '..');
const build = spawnSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const bin = path.join(root, 'node_modules', '.bin');
const link = path.join(bin, 'portcullis');
fs.mkdirSync(bin, { recursive: true });
fs.rmSync(link, { force: true });
fs.symlinkSync(path.relative(bin, path.join(root, 'dist', 'cli', 'main.js')), link);
fs.chmodSync(path.join(root, 'dist', 'cli', 'main.js'), 0o755);
