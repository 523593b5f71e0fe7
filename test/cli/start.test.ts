// `npm start` serves the build made at install, and says why when it must build again; an old
// Node.js fails at once with one line saying what to install; the required version is written
// in package.json, its lockfile and .nvmrc alike.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { staleBecause } from '../../scripts/build-inputs.mjs';
import { nodeIsRecentEnough, requiredNode } from '../../scripts/node-version.mjs';

const root = path.resolve(import.meta.dirname, '../..');
const read = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

test('package.json, the lockfile and .nvmrc require the same Node.js, and npm enforces it', () => {
  const manifest = JSON.parse(read('package.json')) as { engines: { node: string } };
  const lock = JSON.parse(read('package-lock.json')) as { packages: Record<string, { engines?: { node: string } }> };
  expect(lock.packages['']!.engines).toEqual(manifest.engines);
  expect(read('.nvmrc').trim()).toBe(String(requiredNode().major));
  expect(read('.npmrc')).toMatch(/^engine-strict=true$/m);
});

test.each([
  ['20.20.2', false],
  ['22.12.9', false],
  ['22.13.0', true],
  ['22.23.3', true],
  ['24.1.0', true],
])('Node.js %s is recent enough: %s', (version, expected) => {
  expect(nodeIsRecentEnough(version)).toBe(expected);
});

test('on an older Node.js, npm start and the build stop at once with one line that says what to install', () => {
  // Debian's own Node.js is older than Portcullis needs; the suite itself runs on a newer one.
  const old = ['/usr/bin/node', '/usr/local/bin/node'].find((candidate) => {
    if (!fs.existsSync(candidate)) return false;
    const version = spawnSync(candidate, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    return version !== '' && !nodeIsRecentEnough(version);
  });
  if (!old) {
    console.warn('skipped: no Node.js older than the required one on this machine');
    return;
  }
  for (const script of ['scripts/start.mjs', 'scripts/build.mjs']) {
    const result = spawnSync(old, [script], { cwd: root, encoding: 'utf8', timeout: 10_000 });
    expect(result.status).toBe(1);
    const lines = result.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^portcullis: needs Node\.js 22\.13 or newer, and this is v\d+\.\d+\.\d+\. Install Node\.js 22 LTS/);
  }
});

describe('whether the build is older than its sources', () => {
  let project: string;
  const stamp = () => path.join(project, 'dist', '.build-stamp');
  const touch = (file: string, secondsFromNow: number) => {
    const full = path.join(project, file);
    fs.mkdirSync(path.dirname(full), { recursive: true });
    if (!fs.existsSync(full)) fs.writeFileSync(full, '');
    const when = new Date(Date.now() + secondsFromNow * 1000);
    fs.utimesSync(full, when, when);
  };
  beforeEach(() => {
    project = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-build-'));
    touch('tsconfig.json', -60);
    touch('src/cli/main.ts', -60);
    touch('prisma/models/client.prisma', -60);
  });
  afterEach(() => fs.rmSync(project, { recursive: true, force: true }));

  test('no build yet', () => {
    expect(staleBecause(project)).toBe('there is no build yet');
  });
  test('a build newer than every source is served as it is', () => {
    touch('dist/.build-stamp', -10);
    expect(fs.existsSync(stamp())).toBe(true);
    expect(staleBecause(project)).toBeUndefined();
  });
  test.each(['src/cli/main.ts', 'src/oauth/new.ts', 'prisma/models/client.prisma', 'tsconfig.json'])(
    '%s changed after the build',
    (file) => {
      touch('dist/.build-stamp', -10);
      touch(file, 0);
      expect(staleBecause(project)).toBe(`${file} changed after the last build`);
    },
  );
  test('files the build writes itself (the generated clients) do not count', () => {
    touch('dist/.build-stamp', -10);
    touch('src/generated/sqlite/client.ts', 0);
    expect(staleBecause(project)).toBeUndefined();
  });
});
