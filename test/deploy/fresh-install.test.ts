// Install for production on a fresh clone: `npm ci --omit=dev` builds with production
// dependencies only, installs no devDependency, and `npm start` then serves over real HTTP and
// stops cleanly on SIGTERM. The clone is the working tree's files as git would give them
// (uncommitted work included). Slow: the install compiles better-sqlite3 (about 1.5 minutes
// here), so this is one install, with generous timeouts, run once (in the SQLite project).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { childEnv, copyFiles, killGroup, projectFiles, root, run, secondProject, start, stop, waitFor, type Started } from './support.ts';
import { freePort } from '../support/process.ts';

const INSTALL_TIMEOUT_MS = 12 * 60_000;
const describeOnce = secondProject ? describe.skip : describe;
if (secondProject) console.info('test/deploy/fresh-install: runs once, in the sqlite project (it brings its own database)');

describeOnce('a fresh clone installed for production (slow: npm ci compiles better-sqlite3)', () => {
  let work: string;
  let clone: string;
  let install: { code: number | null; output: string };
  let server: Started | undefined;

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-fresh-'));
    clone = path.join(work, 'portcullis');
    copyFiles(projectFiles(), clone);
    install = await run('npm', ['ci', '--omit=dev', '--no-audit', '--no-fund'], {
      cwd: clone,
      env: childEnv({}),
      timeoutMs: INSTALL_TIMEOUT_MS,
    });
  }, INSTALL_TIMEOUT_MS + 60_000);

  afterAll(async () => {
    if (server) {
      await stop(server, 5_000);
      // Whatever the process left behind in its group (a server orphaned by its npm) goes too.
      killGroup(server.child);
    }
    if (work) fs.rmSync(work, { recursive: true, force: true });
  });

  test('npm ci --omit=dev succeeds and builds dist/ with production dependencies only', () => {
    expect({ code: install.code, tail: install.code === 0 ? '' : install.output.slice(-4000) }).toEqual({ code: 0, tail: '' });
    expect(fs.existsSync(path.join(clone, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(fs.existsSync(path.join(clone, 'src', 'generated', 'sqlite'))).toBe(true);
  });

  test('no package that only a devDependency needs is installed', () => {
    const lock = JSON.parse(fs.readFileSync(path.join(root, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean; optional?: boolean }>;
    };
    const devOnly = Object.entries(lock.packages)
      .filter(([location, entry]) => location.startsWith('node_modules/') && entry.dev)
      .map(([location]) => location);
    expect(devOnly.length).toBeGreaterThan(0);
    expect(devOnly.filter((location) => fs.existsSync(path.join(clone, location)))).toEqual([]);
    for (const tool of ['jest', 'eslint', 'tsx', 'prettier', '@swc/core'])
      expect(fs.existsSync(path.join(clone, 'node_modules', tool))).toBe(false);
  });

  test('npm start serves the discovery document on 127.0.0.1 and exits cleanly on SIGTERM', async () => {
    expect(install.code).toBe(0);
    const port = await freePort();
    const data = path.join(work, 'data');
    server = start('npm', ['start'], {
      cwd: clone,
      env: childEnv({ PORT: String(port), HOST: '127.0.0.1', DATABASE_URL: `file:${path.join(data, 'portcullis.db')}` }),
    });
    const running = server;
    const discovery = `http://127.0.0.1:${port}/.well-known/openid-configuration`;
    await waitFor(
      async () => (await fetch(discovery)).status === 200,
      90_000,
      () => running.output().slice(-4000),
    );
    const document = (await (await fetch(discovery)).json()) as { issuer: string; token_endpoint: string };
    expect(document.issuer).toBe(`http://localhost:${port}`);
    // Every endpoint is named after the ISSUER, not the host the request came to (127.0.0.1 here).
    expect(document.token_endpoint).toBe(`http://localhost:${port}/token`);
    expect(running.output()).not.toMatch(/building first/);

    // SIGTERM to npm itself, as a process manager that knows only its child sends it: the server
    // must get it too (npm hands it to the script's shell), drain, and exit with npm.
    const exit = await stop(running);
    expect({ ...exit, output: exit.code === 0 ? '' : running.output().slice(-4000) }).toEqual({ code: 0, signal: null, output: '' });
    // Nothing is left listening: the server went with npm rather than living on as an orphan.
    const after = await fetch(discovery, { signal: AbortSignal.timeout(2000) }).then(
      (response) => `still answering: ${response.status}`,
      () => 'closed',
    );
    expect(after).toBe('closed');
    expect(running.output()).toMatch(/shutting down/);
    expect(fs.existsSync(path.join(data, 'portcullis.db'))).toBe(true);
  }, 150_000);
});
