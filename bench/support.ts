// What the benchmark needs to stand up what it measures: processes it starts and waits for,
// a Portcullis server (the production build) on 127.0.0.1 and a free port, a scratch database,
// the CLI run in-process, and a person's login through the pages. Its own, not the tests' helpers:
// the benchmark must not change when a test's support changes.
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as client from 'openid-client';
import { CookieJar } from 'tough-cookie';
import { runCli } from '../src/cli/index.ts';

export const root = path.resolve(import.meta.dirname, '..');

/** How long a process may take to say it is ready. */
const START_TIMEOUT_MS = 60_000;

/** Node with `args`, in the repository, without the caller's NODE_OPTIONS (the tests' VM modules). */
export function node(args: string[], env: Record<string, string>, stdio: ('ignore' | 'pipe' | number)[]): ChildProcess {
  return spawn(process.execPath, args, { cwd: root, env: { ...process.env, NODE_OPTIONS: '', ...env }, stdio });
}

/** Starts a Node process and resolves with the first JSON line it prints that has a `url`. */
export function startProcess(args: string[], env: Record<string, string> = {}): Promise<{ child: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const child = node(args, env, ['ignore', 'pipe', 'pipe']);
    let output = '';
    const timer = setTimeout(() => reject(new Error(`did not start:\n${output}`)), START_TIMEOUT_MS);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk;
      const line = output.split('\n').find((candidate) => candidate.startsWith('{') && candidate.includes('"url"'));
      if (line) {
        clearTimeout(timer);
        resolve({ child, line });
      }
    });
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    child.on('exit', (code) => reject(new Error(`exited ${code}:\n${output}`)));
  });
}

/** Sends SIGTERM and resolves when the process has exited. */
export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}

/** A port on 127.0.0.1 nothing listens on: the system's choice of an ephemeral one. */
export async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', resolve);
  });
  const address = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  if (address === null || typeof address === 'string') throw new Error('the probe was not bound to a TCP port');
  return address.port;
}

/** An empty SQLite database in a scratch folder, removed with `remove`. */
export function scratchSqlite(): { url: string; remove(): void } {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-bench-'));
  return { url: `file:${path.join(folder, 'bench.db')}`, remove: () => fs.rmSync(folder, { recursive: true, force: true }) };
}

export interface BenchTarget {
  /** Where the server will listen, which is also its issuer. */
  url: string;
  /** Its environment, for the server and for the CLI runs that prepare its database. */
  env: Record<string, string>;
}

/**
 * A production configuration on 127.0.0.1 and a free port, with fresh secrets, on `databaseUrl`.
 * Limits are high enough never to answer 429 to the load generator (one client, one address).
 */
export async function benchTarget(databaseUrl: string): Promise<BenchTarget> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const secret = () => crypto.randomBytes(32).toString('base64url');
  return {
    url,
    env: {
      NODE_ENV: 'production',
      PORT: String(port),
      HOST: '127.0.0.1',
      ISSUER: url,
      DATABASE_URL: databaseUrl,
      COOKIE_KEYS: secret(),
      KEY_ENCRYPTION_KEY: secret(),
      HASH_PEPPER: secret(),
      LOG_LEVEL: 'warn',
      // One process, as the ceiling is; the workers scenarios set it themselves.
      WORKERS: '1',
      TOKEN_RATE_LIMIT: '9999999/1m',
      INTROSPECTION_RATE_LIMIT: '9999999/1m',
      CLIENT_AUTH_FAILURE_LIMIT: '9999999/1m',
      LOGIN_MAX_FAILURES: '1000',
      // Logins are counted before their password is checked: 32 at once from one address would pass 30.
      LOGIN_IP_MAX_FAILURES: '100000',
      LOGIN_ACCOUNT_MAX_FAILURES: '100000',
    },
  };
}

/**
 * Starts the production build (`dist/cli/main.js serve`) for `target` in its own process, so that
 * its CPU and memory are its own, and resolves once /readyz says it serves. Logs at info, as in
 * production, written to `log` (a file descriptor) or nowhere.
 */
export async function startPortcullis(
  target: BenchTarget,
  { nodeArgs = [], log = 'ignore', env = {} }: { nodeArgs?: string[]; log?: 'ignore' | number; env?: Record<string, string> } = {},
): Promise<ChildProcess> {
  const child = node([...nodeArgs, path.join(root, 'dist/cli/main.js'), 'serve'], { ...target.env, LOG_LEVEL: 'info', ...env }, [
    'ignore',
    log,
    log,
  ]);
  for (let waited = 0; ; waited += 100) {
    if ((await fetch(`${target.url}/readyz`).catch(() => undefined))?.status === 200) return child;
    if (waited > START_TIMEOUT_MS || child.exitCode !== null) {
      await stopProcess(child);
      throw new Error('Portcullis did not start');
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs a `portcullis` command in this process with --json; resolves with what it printed. */
export async function cli(env: Record<string, string>, args: string[], stdin = ''): Promise<Record<string, string>> {
  let stdout = '';
  let stderr = '';
  const code = await runCli([...args, '--json'], {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    readStdin: async () => stdin,
    env: { ...process.env, ...env },
  });
  if (code !== 0) throw new Error(`portcullis ${args.join(' ')}: ${stderr}`);
  return JSON.parse(stdout);
}

interface Page {
  url: string;
  status: number;
  location?: string;
  body: string;
}

/** A browser as far as the login pages need one: cookies, forms, redirects followed by hand. */
class Browser {
  private readonly jar = new CookieJar();

  async open(url: string, form?: Record<string, string>): Promise<Page> {
    const headers: Record<string, string> = { accept: 'text/html' };
    const cookie = await this.jar.getCookieString(url);
    if (cookie) headers.cookie = cookie;
    const body = form ? new URLSearchParams(form) : undefined;
    const response = await fetch(url, { method: body ? 'POST' : 'GET', headers, body, redirect: 'manual' });
    for (const header of response.headers.getSetCookie()) await this.jar.setCookie(header, url, { ignoreError: true });
    const location = response.headers.get('location');
    return {
      url,
      status: response.status,
      ...(location ? { location: new URL(location, url).toString() } : {}),
      body: await response.text(),
    };
  }

  /** Opens `url` and follows redirects (at most ten) to a page, or to one starting with `stopAt`. */
  async follow(url: string, stopAt: string, form?: Record<string, string>): Promise<Page> {
    let page = await this.open(url, form);
    for (let hops = 0; page.location && !page.location.startsWith(stopAt) && hops < 10; hops += 1) page = await this.open(page.location);
    return page;
  }
}

/** The form on `page` whose action ends with `suffix`, with its CSRF token. */
function form(page: Page, suffix: string): { action: string; csrf: string } {
  const action = new RegExp(`action="([^"]*${suffix})"`).exec(page.body)?.[1];
  const csrf = /name="csrf" value="([^"]+)"/.exec(page.body)?.[1];
  if (!action || !csrf) throw new Error(`no form ending in ${suffix} on ${page.url}`);
  return { action: new URL(action.replaceAll('&amp;', '&'), page.url).toString(), csrf };
}

/**
 * A person's whole authorization-code flow: a PKCE request, the login and consent pages, and the
 * code exchange by openid-client (which checks the answer). Resolves with the tokens.
 */
export async function logInWithCode(
  config: client.Configuration,
  parameters: Record<string, string>,
  { email, password, redirectUri }: { email: string; password: string; redirectUri: string },
): Promise<client.TokenEndpointResponse> {
  const verifier = client.randomPKCECodeVerifier();
  const authorization = client.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    ...parameters,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  const browser = new Browser();
  let page = await browser.follow(authorization.toString(), redirectUri);
  // The login page, then the consent page; each answered once.
  for (let pages = 0; pages < 4 && page.status === 200; pages += 1) {
    if (page.body.includes('name="password"')) {
      const login = form(page, '/login');
      page = await browser.follow(login.action, redirectUri, { csrf: login.csrf, email, password });
    } else if (page.body.includes('/confirm"')) {
      const consent = form(page, '/confirm');
      page = await browser.follow(consent.action, redirectUri, { csrf: consent.csrf });
    } else break;
  }
  if (!page.location?.startsWith(redirectUri)) throw new Error(`the login stopped at ${page.status} ${page.url}`);
  return client.authorizationCodeGrant(config, new URL(page.location), { pkceCodeVerifier: verifier });
}
