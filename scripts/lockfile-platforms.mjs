#!/usr/bin/env node
// Restores the lockfile entries of other platforms' optional binaries (@swc/core-darwin-*,
// @esbuild/win32-*, ...). The npm registry mirror on our machines serves only Linux x64/arm64
// builds, so `npm install` leaves the rest out of package-lock.json, and `npm ci` then refuses
// the lockfile as out of sync. Each restored entry names only the version its parent pins; npm
// skips it at install time on a platform it does not fit. Idempotent: safe to run any time.
import fs from 'node:fs';
import path from 'node:path';

const file = path.resolve(import.meta.dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(file, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [location, entry] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(entry.optionalDependencies ?? {})) {
    const nested = location ? `${location}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[nested] || packages[`node_modules/${name}`]) continue;
    packages[`node_modules/${name}`] = { version: range.replace(/^[\^~=]/, ''), optional: true, ...(entry.dev ? { dev: true } : {}) };
    added += 1;
  }
}
if (added) {
  lock.packages = Object.fromEntries(Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))));
  fs.writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
}
console.log(`lockfile: ${added} optional platform entr${added === 1 ? 'y' : 'ies'} restored`);
