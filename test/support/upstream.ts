// A second Portcullis as the upstream of a federation test: a real OpenID provider on 127.0.0.1
// that knows nothing of the server under test. It runs as its own `portcullis serve` process on
// its own fresh database, its people and its client are made with the CLI against that database,
// and a scripted user agent goes through its real login and consent pages.
import { cliJson } from './cli.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';
import { csrfFrom, formAction, type Step, type UserAgent } from './browser.ts';
import { freePort, startServeProcess, type ServeProcess } from './process.ts';
import { testPepper } from './server.ts';

export interface Upstream {
  /** Its issuer: http://127.0.0.1:PORT. */
  url: string;
  /** The environment of its process (and of the CLI against its database). */
  env: Record<string, string>;
  process: ServeProcess;
  testDatabase: TestDatabase;
  /** A person who can sign in upstream (verified, as an administrator makes them); returns the upstream's id (its `sub`). */
  createUser(email: string, password: string, name?: string): Promise<string>;
  /** A confidential client for authorization_code with this one redirect URI. */
  createClient(redirectUri: string, name?: string): Promise<{ clientId: string; secret: string }>;
  /** Stops the process (SIGTERM) and drops its database. Safe to call twice. */
  stop(): Promise<void>;
}

export async function startUpstream(extraEnv: Record<string, string> = {}): Promise<Upstream> {
  const testDatabase = await createTestDatabase();
  const port = await freePort();
  const env = {
    DATABASE_URL: testDatabase.url,
    HASH_PEPPER: testPepper,
    PORT: String(port),
    ISSUER: `http://127.0.0.1:${port}`,
    NODE_ENV: 'development',
    LOG_LEVEL: 'info',
    ...extraEnv,
  };
  let serve: ServeProcess;
  try {
    // `serve` applies the migrations to the empty database before it listens.
    serve = await startServeProcess(env, 60_000);
  } catch (error) {
    await testDatabase.drop();
    throw error;
  }
  let stopped = false;
  return {
    url: env.ISSUER,
    env,
    process: serve,
    testDatabase,
    async createUser(email, password, name) {
      const made = await cliJson<{ id: string }>(
        ['user', 'create', '--email', email, ...(name ? ['--name', name] : []), '--password-stdin'],
        env,
        password,
      );
      return made.id;
    },
    async createClient(redirectUri, name = 'Downstream Portcullis') {
      const made = await cliJson<{ client_id: string; client_secret: string }>(
        [
          'client',
          'create',
          '--name',
          name,
          '--grant',
          'authorization_code',
          '--redirect-uri',
          redirectUri,
          '--scope',
          'openid email profile',
        ],
        env,
      );
      return { clientId: made.client_id, secret: made.client_secret };
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await serve.stop();
      await testDatabase.drop();
    },
  };
}

export interface UpstreamSignIn {
  email: string;
  password: string;
  /** The person's answer on the upstream's consent page: allow (default) or deny (its cancel form). */
  consent?: 'allow' | 'deny';
}

/**
 * Follows `step` (an answer whose location is the upstream's /auth) through the upstream's own
 * pages with the same agent: its login form (csrf, email, password), then its consent page.
 * Returns the upstream's answer that sends the agent back to the downstream (its location is the
 * downstream's callback with code or error), so a test can look at it or change it before going on.
 */
export async function signInUpstream(
  agent: UserAgent,
  upstream: Upstream,
  step: Step,
  { email, password, consent = 'allow' }: UpstreamSignIn,
): Promise<Step> {
  const upstreamOrigin = new URL(upstream.url).origin;
  const atUpstream = (url: string | undefined) => url !== undefined && new URL(url).origin === upstreamOrigin;
  if (!atUpstream(step.location)) throw new Error(`not sent to the upstream: ${step.status} ${step.location ?? step.body.slice(0, 400)}`);
  let current = step;
  let loggedIn = false;
  let answered = false;
  for (let hops = 0; hops < 16; hops += 1) {
    if (current.location) {
      if (!atUpstream(current.location)) return current;
      current = await agent.request(current.location);
      continue;
    }
    if (current.status !== 200 || !atUpstream(current.url))
      throw new Error(`the upstream answered ${current.status} at ${current.url}:\n${current.body.slice(0, 600)}`);
    if (!loggedIn && current.body.includes('name="password"')) {
      loggedIn = true;
      current = await agent.request(formAction(current.body, '/login', current.url), {
        form: { csrf: csrfFrom(current.body), email, password },
      });
    } else if (!answered && current.body.includes('/confirm"')) {
      answered = true;
      current = await agent.request(formAction(current.body, consent === 'allow' ? '/confirm' : '/abort', current.url), {
        form: { csrf: csrfFrom(current.body) },
      });
    } else {
      throw new Error(`the upstream stopped at a page it should not show (${current.url}):\n${current.body.slice(0, 600)}`);
    }
  }
  throw new Error('the upstream redirected too many times');
}

/**
 * Starts an upstream alongside `other` (the server under test, started at the same time): when
 * either fails to start, the one that did is stopped before the error is thrown, so a failed
 * beforeAll leaves no process or database behind.
 */
export async function startWithUpstream<T extends { stop(): Promise<void> }>(
  other: Promise<T>,
  upstreamEnv: Record<string, string> = {},
): Promise<[Upstream, T]> {
  const [upstream, started] = await Promise.allSettled([startUpstream(upstreamEnv), other]);
  if (upstream.status === 'fulfilled' && started.status === 'fulfilled') return [upstream.value, started.value];
  await Promise.allSettled([
    upstream.status === 'fulfilled' ? upstream.value.stop() : undefined,
    started.status === 'fulfilled' ? started.value.stop() : undefined,
  ]);
  throw upstream.status === 'rejected' ? upstream.reason : (started as PromiseRejectedResult).reason;
}
