// The developer page held to post/redirect/get: a new key is shown once through the flash, a
// reload neither shows it again nor makes another, revoking asks first, refusals come back with
// the focus on the field at fault, and dates are in the page's language.
import { csrfFrom, UserAgent } from '../support/browser.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { createUser, signInToAccount } from './support.ts';

const PASSWORD = 'a long and private passphrase';
const MAPS = 'https://maps.example.com';
let running: RunningServer;
let agent: UserAgent;
let userId: string;

beforeAll(async () => {
  running = await startServer();
  userId = await createUser(running.env, 'dev@example.com', PASSWORD);
  await cli(
    [
      'resource',
      'create',
      '--audience',
      MAPS,
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
  agent = new UserAgent();
  await signInToAccount(running.url, 'dev@example.com', PASSWORD, agent, '/account/keys');
});
afterAll(() => running.stop());

const keyIn = (body: string) => /id="new-key"[^>]*value="([^"]+)"/.exec(body)?.[1];
const keysOf = () => running.server.services.apiKeys.list({ ownerUserId: userId });

test('Create key answers 303; the key is shown once; reloading shows no key and makes none', async () => {
  const page = await agent.request(`${running.url}/account/keys`);
  expect(page.body).toContain('<main class="card wide">');
  const created = await agent.request(`${running.url}/account/keys`, {
    form: { csrf: csrfFrom(page.body), form: '0', name: 'Tile fetcher', audience: MAPS, scope: 'tiles:read', expires: String(30 * 86_400) },
  });
  expect(created.status).toBe(303);
  expect(created.location).toBe(`${running.url}/account/keys`);
  expect(created.body).not.toMatch(/pcl_test_/);
  const shown = await agent.request(created.location!);
  const key = keyIn(shown.body)!;
  expect(key).toMatch(/^pcl_test_/);
  expect(shown.body).toContain('It will not be shown again.');
  // The grace and expiry dates are Intl's, never ISO.
  expect(shown.body).toMatch(/active, expires [A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2} [AP]M UTC/);
  expect(shown.body).not.toMatch(/\d{4}-\d{2}-\d{2}T\d{2}/);
  const reloaded = await agent.request(created.location!);
  expect(keyIn(reloaded.body)).toBeUndefined();
  expect(reloaded.body).not.toContain(key);
  expect(await keysOf()).toHaveLength(1);
  expect(await running.server.services.apiKeys.verify(key)).toMatchObject({ ok: true });
  // The flash is sealed to this session: replaying its cookie elsewhere shows nothing.
  expect(reloaded.headers.getSetCookie().join()).not.toContain(key);
});

test('a replayed flash cookie shows nothing: the flash is marked read in the database when shown', async () => {
  const page = await agent.request(`${running.url}/account/keys`);
  const created = await agent.request(`${running.url}/account/keys`, {
    form: { csrf: csrfFrom(page.body), form: '0', name: 'Replayed', audience: MAPS, scope: 'tiles:read', expires: String(30 * 86_400) },
  });
  const flashCookie = created.headers
    .getSetCookie()
    .map((header) => header.split(';')[0]!)
    .find((pair) => pair.startsWith('portcullis.flash='))!;
  expect(flashCookie).toBeDefined();
  const session = await agent.jar.getCookieString(`${running.url}/account/keys`);
  const shown = await agent.request(created.location!);
  expect(keyIn(shown.body)).toMatch(/^pcl_test_/);
  // The same cookie sent again (as a copy of it would be): the page shows no key.
  const replayed = await fetch(`${running.url}/account/keys`, { headers: { cookie: `${session}; ${flashCookie}` } });
  const body = await replayed.text();
  expect(replayed.status).toBe(200);
  expect(body).toContain('Replayed');
  expect(keyIn(body)).toBeUndefined();
});

test('Rotate asks on a page of its own first; the POST shows the new key once and when the old one stops, in Intl words', async () => {
  const before = (await keysOf()).length;
  const key = (await keysOf()).find((item) => !item.revoked_at)!;
  const id = key.id;
  const list = await agent.request(`${running.url}/account/keys`);
  // The list's button only opens the confirmation: a GET, which changes nothing.
  expect(list.body).toContain(`<form method="get" action="/account/keys/${id}/rotate">`);
  expect(list.body).not.toContain(`<form method="post" action="/account/keys/${id}/rotate">`);
  const confirm = await agent.request(`${running.url}/account/keys/${id}/rotate`);
  expect(confirm.status).toBe(200);
  expect(confirm.body).toContain(`Rotate the key ${key.name}?`);
  expect(confirm.body).toContain(`<form method="post" action="/account/keys/${id}/rotate">`);
  expect(confirm.body).toContain('href="/account/keys"');
  expect(await keysOf()).toHaveLength(before);
  const german = await agent.request(`${running.url}/account/keys/${id}/rotate`, { headers: { 'accept-language': 'de' } });
  expect(german.body).toContain(`Den Schlüssel ${key.name} erneuern?`);
  const rotated = await agent.request(`${running.url}/account/keys/${id}/rotate`, { form: { csrf: csrfFrom(confirm.body) } });
  expect(rotated.status).toBe(303);
  const shown = await agent.request(rotated.location!);
  expect(keyIn(shown.body)).toMatch(/^pcl_test_/);
  expect(shown.body).toMatch(/The key it replaces works until [A-Z][a-z]{2} \d{1,2}, \d{4}, \d{2}:\d{2} [AP]M UTC\./);
  expect(await keysOf()).toHaveLength(before + 1);
});

test('a new key waits for the developer page: another account page loaded first (another tab) leaves it there', async () => {
  const page = await agent.request(`${running.url}/account/keys`);
  const created = await agent.request(`${running.url}/account/keys`, {
    form: { csrf: csrfFrom(page.body), form: '0', name: 'Two tabs', audience: MAPS, scope: 'tiles:read', expires: String(30 * 86_400) },
  });
  expect(created.status).toBe(303);
  const elsewhere = await agent.request(`${running.url}/account`);
  expect(elsewhere.status).toBe(200);
  const shown = await agent.request(created.location!);
  expect(keyIn(shown.body)).toMatch(/^pcl_test_/);
});

test('a refusal comes back once, with the focus on the field at fault and the name kept', async () => {
  const page = await agent.request(`${running.url}/account/keys`);
  const refused = await agent.request(`${running.url}/account/keys`, {
    form: { csrf: csrfFrom(page.body), form: '0', name: 'Too wide', audience: MAPS, scope: 'tiles:write' },
  });
  expect(refused.status).toBe(303);
  const shown = await agent.request(refused.location!);
  expect(shown.body).toContain('The key was not created: tiles:write is not a scope this API offers on keys of your own.');
  expect(shown.body).toMatch(/id="scope-0-0" autofocus aria-invalid="true"/);
  expect(shown.body).toMatch(/id="name-0"[^>]*value="Too wide"/);
  expect((await agent.request(refused.location!)).body).not.toContain('The key was not created:');
});

test("a refusal is in the page's language: the service's English words are not shown", async () => {
  const german = { 'accept-language': 'de' };
  const page = await agent.request(`${running.url}/account/keys`, { headers: german });
  const refuse = async (form: Record<string, string>) => {
    const refused = await agent.request(`${running.url}/account/keys`, {
      form: { csrf: csrfFrom(page.body), form: '0', audience: MAPS, ...form },
      headers: german,
    });
    return (await agent.request(refused.location!, { headers: german })).body;
  };
  const wide = await refuse({ name: 'Zu weit', scope: 'tiles:write' });
  expect(wide).toContain('Der Schlüssel wurde nicht erstellt: tiles:write bietet diese API für eigene Schlüssel nicht an.');
  expect(wide).not.toContain('is not accepted');
  const none = await refuse({ name: 'Ohne Scope' });
  expect(none).toContain('Der Schlüssel wurde nicht erstellt: Wählen Sie mindestens einen Scope.');
  expect(none).not.toContain('at least one scope is required');
  const unnamed = await refuse({ name: ' ', scope: 'tiles:read' });
  expect(unnamed).toContain('Geben Sie ihm einen Namen mit höchstens 200 Zeichen.');
  expect(unnamed).toMatch(/id="name-0"[^>]*autofocus aria-invalid="true"/);
  expect(unnamed).not.toMatch(/name: |is required/);
});

test("Revoke asks on a page of its own; the POST revokes and answers 303; someone else's key is not found", async () => {
  const [key] = (await keysOf()).filter((item) => !item.revoked_at);
  const list = await agent.request(`${running.url}/account/keys`);
  expect(list.body).toContain(`<form method="get" action="/account/keys/${key!.id}/revoke">`);
  const confirm = await agent.request(`${running.url}/account/keys/${key!.id}/revoke`);
  expect(confirm.status).toBe(200);
  expect(confirm.body).toContain(`Revoke the key ${key!.name}?`);
  expect(confirm.body).toContain('href="/account/keys"');
  expect((await keysOf()).find((item) => item.id === key!.id)!.revoked_at).toBeNull();
  const revoked = await agent.request(`${running.url}/account/keys/${key!.id}/revoke`, { form: { csrf: csrfFrom(confirm.body) } });
  expect(revoked.status).toBe(303);
  expect((await agent.request(revoked.location!)).body).toContain(`Revoked ${key!.name}. It stopped working at once.`);
  expect((await keysOf()).find((item) => item.id === key!.id)!.revoked_at).not.toBeNull();

  const other = (await cli(['apikey', 'create', '--name', 'not yours', '--scope', 'x', '--json'], running.env)).json<{ id: string }>();
  expect((await agent.request(`${running.url}/account/keys/${other.id}/revoke`)).status).toBe(404);
  const refused = await agent.request(`${running.url}/account/keys/${other.id}/revoke`, { form: { csrf: csrfFrom(confirm.body) } });
  expect(refused.status).toBe(303);
  expect((await agent.request(refused.location!)).body).toContain('There is no such key.');
  const all = (await cli(['apikey', 'list', '--json'], running.env)).json<{ id: string; revoked_at: string | null }[]>();
  expect(all.find((item) => item.id === other.id)!.revoked_at).toBeNull();
});

test('the developer page in German', async () => {
  const page = await agent.request(`${running.url}/account/keys`, { headers: { 'accept-language': 'de' } });
  expect(page.body).toContain('API-Schlüssel');
  expect(page.body).toContain('Schlüssel erstellen');
  expect(page.body).toMatch(/aktiv, läuft ab am \d{1,2}\. \S+ \d{4}, \d{2}:\d{2} UTC/);
});
