// Keys people make for themselves: only the scopes an administrator made available to people for
// an API (its personal_key_scope), never what they consented to for an app; the admin API never;
// they always expire; creating or rotating one needs a recent sign-in or the password again.
import * as client from 'openid-client';
import { adminAudience } from '../../src/resources/index.ts';
import { csrfFrom, formAction, pkceAuthorization, signIn, UserAgent } from '../support/browser.ts';
import { cli, cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8135/callback';
const MAPS = 'https://maps.example.com';
const SECRET_API = 'https://vault.example.com';
const EMAIL = 'maker@example.com';
const PASSWORD = 'a passphrase for keys';

/** The CLI against a server, with --json; a failure throws. */
const run = <T = Record<string, unknown>>(running: RunningServer, args: string[], stdin = '') => cliJson<T>(args, running.env, stdin);

/** A server with the two APIs, a person, and an app; the person signs in and consents to tiles:write. */
async function signedIn(env: Record<string, string> = {}) {
  const running = await startServer(env);
  await run(running, [
    'resource',
    'create',
    '--audience',
    MAPS,
    '--scope',
    'tiles:read tiles:write',
    '--personal-key-scope',
    'tiles:read',
    '--name',
    'Maps API',
  ]);
  await run(running, ['resource', 'create', '--audience', SECRET_API, '--scope', 'vault:open', '--name', 'Vault API']);
  await run(running, ['user', 'create', '--email', EMAIL, '--password-stdin'], PASSWORD);
  const app = await run<{ client_id: string }>(running, [
    'client',
    'create',
    '--name',
    'Map console',
    '--public',
    '--grant',
    'authorization_code',
    '--redirect-uri',
    REDIRECT,
    '--scope',
    'tiles:read tiles:write vault:open',
  ]);
  const config = await client.discovery(new URL(running.url), app.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const agent = new UserAgent();
  for (const resource of [MAPS, SECRET_API]) {
    const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid tiles:write vault:open', resource });
    const step = await signIn(agent, url, { email: EMAIL, password: PASSWORD, redirectUri: REDIRECT });
    expect(step.location).toMatch(/code=/);
  }
  return { running, agent };
}

const keyIn = (body: string) => /id="new-key"[^>]*value="([^"]+)"/.exec(body)?.[1];

describe('with a fresh sign-in', () => {
  let running: RunningServer;
  let agent: UserAgent;
  beforeAll(async () => ({ running, agent } = await signedIn()));
  afterAll(() => running.stop());

  /** Posts the form; the page answers 303 (post/redirect/get), and the page it redirects to shows the outcome once. */
  const create = async (form: Record<string, string>) => {
    const page = await agent.request(`${running.url}/account/keys`);
    const posted = await agent.request(`${running.url}/account/keys`, { form: { csrf: csrfFrom(page.body), name: 'mine', ...form } });
    expect(posted.status).toBe(303);
    const shown = await agent.request(posted.location!);
    return { body: shown.body, refused: shown.body.includes('role="alert"') };
  };

  test('the page offers only the scopes made available to people, and hides APIs that offer none', async () => {
    const page = await agent.request(`${running.url}/account/keys`);
    expect(page.body).toContain('Maps API');
    expect(page.body).toMatch(/type="checkbox" name="scope" value="tiles:read"/);
    expect(page.body).not.toContain('value="tiles:write"');
    expect(page.body).not.toContain('Vault API');
    expect(page.body).not.toContain(adminAudience(running.url));
    expect(page.body).not.toContain('name="password"'); // the sign-in is recent
  });

  test('a scope the person consented to for an app is not one they may put on a key', async () => {
    const [grant] = await running.server.services.grants.list({ account_id: (await running.server.services.users.list())[0]!.id });
    expect(grant!.resources[MAPS]).toContain('tiles:write'); // consented to, for the app
    const refused = await create({ audience: MAPS, scope: 'tiles:write' });
    expect(refused.refused).toBe(true);
    expect(refused.body).toContain('The key was not created: tiles:write is not a scope this API offers on keys of your own.');
    expect(keyIn(refused.body)).toBeUndefined();
    const vault = await create({ audience: SECRET_API, scope: 'vault:open' });
    expect(vault.refused).toBe(true);
    expect(vault.body).toContain('The key was not created: this API does not offer keys to people.');
    const admin = await create({ audience: adminAudience(running.url), scope: 'admin:write' });
    expect(admin.refused).toBe(true);
  });

  test('a key of a person always expires: 90 days unless chosen, never past the maximum', async () => {
    const made = await create({ audience: MAPS, scope: 'tiles:read' });
    expect(made.refused).toBe(false);
    expect(keyIn(made.body)).toMatch(/^pcl_test_/);
    const keys = await running.server.services.apiKeys.list({ ownerUserId: (await running.server.services.users.list())[0]!.id });
    const days = (Date.parse(keys.at(-1)!.expires_at!) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(89.9);
    expect(days).toBeLessThanOrEqual(90);
    const tooLong = await create({ audience: MAPS, scope: 'tiles:read', expires: String(400 * 86_400) });
    expect(tooLong.refused).toBe(true);
    expect(tooLong.body).toContain('lives at most 365 days');
    // The same rule holds when an administrator makes a key for a person.
    const user = (await running.server.services.users.list())[0]!;
    const byAdmin = await running.server.services.apiKeys.create(
      { name: 'ops', scope: 'tiles:write', audiences: [MAPS], owner_user_id: user.id },
      { type: 'admin' },
    );
    expect(byAdmin.expires_at).not.toBeNull();
    // A person's key from before keys of people had to expire ends USER_API_KEY_MAX_DAYS after it was made.
    const old = await running.server.services.apiKeys.create(
      { name: 'legacy', scope: 'tiles:read', audiences: [MAPS], owner_user_id: user.id },
      { type: 'admin' },
    );
    await running.db.prisma.apiKey.update({
      where: { id: old.id },
      data: { expiresAt: null, createdAt: new Date(Date.now() - 366 * 86_400_000) },
    });
    running.server.services.apiKeys.forgetCached();
    expect(await running.server.services.apiKeys.verify(old.key)).toEqual({ ok: false, reason: 'expired' });
    expect(await running.server.services.apiKeys.isActive(old.id)).toBe(false);
    const listed = (await running.server.services.apiKeys.list({ ownerUserId: user.id })).find((key) => key.id === old.id)!;
    expect(Date.parse(listed.expires_at!)).toBeLessThan(Date.now());
  });

  test('administrators choose the scopes with the CLI and the admin API; the admin API can never offer any', async () => {
    const updated = await run<{ personal_key_scope: string }>(running, [
      'resource',
      'update',
      '--audience',
      MAPS,
      '--personal-key-scope',
      'tiles:read tiles:write',
    ]);
    expect(updated.personal_key_scope).toBe('tiles:read tiles:write');
    // The CLI ran in a process of its own: this server sees the change once its one-second cache ends.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect((await create({ audience: MAPS, scope: 'tiles:write' })).refused).toBe(false);
    const outside = await cli(['resource', 'update', '--audience', MAPS, '--personal-key-scope', 'tiles:delete', '--json'], running.env);
    expect(outside.code).toBe(1);
    expect(outside.stderr).toContain('personal_key_scope');
    const admin = await cli(
      ['resource', 'update', '--audience', adminAudience(running.url), '--personal-key-scope', 'admin:read', '--json'],
      running.env,
    );
    expect(admin.code).toBe(1);
    expect(admin.stderr).toContain('people may not make keys for this API');
    const openapi = (await (await fetch(`${running.url}/admin/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(openapi.paths['/admin/resources/{id}']).toHaveProperty('patch');
  });
});

test('after RECENT_SIGN_IN_SECONDS, creating or rotating a key asks for the password again', async () => {
  const { running, agent } = await signedIn({ RECENT_SIGN_IN_SECONDS: '1' });
  try {
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const page = await agent.request(`${running.url}/account/keys`);
    expect(page.body).toContain('name="password"');
    const form = { csrf: csrfFrom(page.body), name: 'late', audience: MAPS, scope: 'tiles:read' };
    // Each POST answers 303; the page it redirects to says what happened, once.
    const outcome = async (posted: Awaited<ReturnType<typeof agent.request>>) => {
      expect(posted.status).toBe(303);
      return (await agent.request(posted.location!)).body;
    };
    const without = await outcome(await agent.request(`${running.url}/account/keys`, { form }));
    expect(without).toContain('Confirm it is you');
    expect(without).toMatch(/id="password-0"[^>]*autofocus/);
    expect(keyIn(without)).toBeUndefined();
    const wrong = await outcome(await agent.request(`${running.url}/account/keys`, { form: { ...form, password: 'not it' } }));
    expect(wrong).toContain('Confirm it is you');
    const right = await outcome(await agent.request(`${running.url}/account/keys`, { form: { ...form, password: PASSWORD } }));
    const key = keyIn(right)!;
    expect(key).toBeDefined();
    const listed = await agent.request(`${running.url}/account/keys`);
    const rotate = formAction(listed.body, '/rotate', listed.url);
    expect(await outcome(await agent.request(rotate, { form: { csrf: csrfFrom(listed.body) } }))).toContain('Confirm it is you');
    const rotated = await outcome(await agent.request(rotate, { form: { csrf: csrfFrom(listed.body), password: PASSWORD } }));
    expect(keyIn(rotated)).toBeDefined();
    expect(keyIn(rotated)).not.toBe(key);
  } finally {
    await running.stop();
  }
});
