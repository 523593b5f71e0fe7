// The developer page: a signed-in person creates, lists, rotates and revokes their own keys.
import * as client from 'openid-client';
import { cli } from '../support/cli.ts';
import { csrfFrom, formAction, signIn, UserAgent, basicAuth, pkceAuthorization } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8125/callback';
let running: RunningServer;
let agent: UserAgent;

async function introspect(key: string, rs: { client_id: string; client_secret: string }) {
  const response = await fetch(`${running.url}/token/introspection`, {
    method: 'POST',
    headers: basicAuth(rs.client_id, rs.client_secret),
    body: new URLSearchParams({ token: key }),
  });
  return (await response.json()) as { active: boolean; sub?: string; scope?: string };
}

beforeAll(async () => {
  running = await startServer();
  await cli(['user', 'create', '--email', 'dev@example.com', '--password-stdin', '--json'], running.env, 'developer passphrase');
  await cli(
    [
      'resource',
      'create',
      '--audience',
      'https://maps.example.com',
      '--scope',
      'tiles:read',
      '--personal-key-scope',
      'tiles:read',
      '--name',
      'Maps API',
      '--json',
    ],
    running.env,
  );
  const app = (
    await cli(
      [
        'client',
        'create',
        '--name',
        'Console',
        '--public',
        '--grant',
        'authorization_code',
        '--redirect-uri',
        REDIRECT,
        '--scope',
        'tiles:read',
        '--json',
      ],
      running.env,
    )
  ).json<{ client_id: string }>();
  const config = await client.discovery(new URL(running.url), app.client_id, undefined, client.None(), {
    execute: [client.allowInsecureRequests],
  });
  const { url } = await pkceAuthorization(config, {
    redirect_uri: REDIRECT,
    scope: 'openid tiles:read',
    resource: 'https://maps.example.com',
  });
  agent = new UserAgent();
  const step = await signIn(agent, url.toString(), { email: 'dev@example.com', password: 'developer passphrase', redirectUri: REDIRECT });
  expect(step.location).toMatch(/code=/);
});
afterAll(() => running.stop());

test('create shows the key once with a copy button; it works; rotate and revoke work; forged forms are refused', async () => {
  const rs = (await cli(['client', 'create', '--name', 'maps', '--grant', 'client_credentials', '--json'], running.env)).json<{
    client_id: string;
    client_secret: string;
  }>();
  const page = await agent.request(`${running.url}/account/keys`);
  expect(page.status).toBe(200);
  expect(page.body).toContain('You have no API keys yet.');
  expect(page.body).toContain('Maps API');

  const created = await agent.request(`${running.url}/account/keys`, {
    form: {
      csrf: csrfFrom(page.body),
      name: 'Tile fetcher',
      audience: 'https://maps.example.com',
      scope: 'tiles:read',
      expires: '7776000',
    },
  });
  // Post/redirect/get: the key is shown once, by the page the POST redirects to (test/account/keys.test.ts).
  expect(created.status).toBe(303);
  const shown = await agent.request(created.location!);
  const key = /id="new-key"[^>]*value="(pcl_test_[0-9A-Za-z]+)"/.exec(shown.body)![1]!;
  expect(shown.body).toContain('data-copy="new-key"');
  expect(shown.body).toContain('<script src="/assets/copy.js"');
  expect((await fetch(`${running.url}/assets/copy.js`)).status).toBe(200);
  const user = (await cli(['user', 'list', '--json'], running.env))
    .json<{ id: string; email: string }[]>()
    .find((u) => u.email === 'dev@example.com')!;
  expect(await introspect(key, rs)).toMatchObject({ active: true, sub: user.id, scope: 'tiles:read' });

  // The list never shows the key again.
  const listed = await agent.request(`${running.url}/account/keys`);
  expect(listed.body).toContain('Tile fetcher');
  expect(listed.body).not.toContain(key);

  // Bad input is a 400 page naming the problem.
  const bad = await agent.request(`${running.url}/account/keys`, {
    form: { csrf: csrfFrom(listed.body), name: 'x', audience: 'https://maps.example.com', scope: 'admin' },
  });
  expect(bad.status).toBe(303);
  expect((await agent.request(bad.location!)).body).toContain(
    'The key was not created: admin is not a scope this API offers on keys of your own.',
  );
  const noApi = await agent.request(`${running.url}/account/keys`, {
    form: { csrf: csrfFrom(listed.body), name: 'x', audience: '', scope: 'tiles:read' },
  });
  expect(noApi.status).toBe(303);
  expect((await agent.request(noApi.location!)).body).toContain('The key was not created');

  const forged = await agent.request(formAction(listed.body, '/revoke', listed.url), { form: { csrf: 'forged' } });
  expect(forged.status).toBe(403);

  const rotation = await agent.request(formAction(listed.body, '/rotate', listed.url), { form: { csrf: csrfFrom(listed.body) } });
  expect(rotation.status).toBe(303);
  const rotated = await agent.request(rotation.location!);
  const newKey = /id="new-key"[^>]*value="(pcl_test_[0-9A-Za-z]+)"/.exec(rotated.body)![1]!;
  expect(newKey).not.toBe(key);
  expect(rotated.body).toContain('The key it replaces works until');
  expect(await introspect(newKey, rs)).toMatchObject({ active: true });
  expect(await introspect(key, rs)).toMatchObject({ active: true });

  const afterRotate = await agent.request(`${running.url}/account/keys`);
  const revokeNew = [...afterRotate.body.matchAll(/action="(\/account\/keys\/[^"]+\/revoke)"/g)].map((match) => match[1]!);
  for (const action of revokeNew) await agent.request(`${running.url}${action}`, { form: { csrf: csrfFrom(afterRotate.body) } });
  expect(await introspect(newKey, rs)).toEqual({ active: false });
  expect(await introspect(key, rs)).toEqual({ active: false });
});

test("someone else's key cannot be rotated or revoked from the page", async () => {
  const other = (await cli(['apikey', 'create', '--name', 'not yours', '--scope', 'x', '--json'], running.env)).json<{ id: string }>();
  const page = await agent.request(`${running.url}/account/keys`);
  const response = await agent.request(`${running.url}/account/keys/${other.id}/revoke`, { form: { csrf: csrfFrom(page.body) } });
  expect(response.status).toBe(303);
  expect((await agent.request(response.location!)).body).toContain('There is no such key.');
  const list = (await cli(['apikey', 'list', '--json'], running.env)).json<{ id: string; revoked_at: string | null }[]>();
  expect(list.find((key) => key.id === other.id)!.revoked_at).toBeNull();
});

test('without a session the keys page starts a sign-in', async () => {
  const answer = await new UserAgent().request(`${running.url}/account/keys`);
  expect(answer.status).toBe(303);
  expect(answer.location).toContain('/auth?client_id=portcullis-account&');
});
