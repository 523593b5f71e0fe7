// The admin API's view of second factors, over HTTP: a person's factors (never a secret) and
// their reset, whether a person must always use a second factor (PATCH /admin/users/{id}), and a
// client's require_mfa; each change with its audit event as the admin client, and bad input a 4xx
// naming the field.
import crypto from 'node:crypto';
import * as OTPAuth from 'otpauth';
import { adminRoutes } from '../../src/admin/index.ts';
import { factorSummary, userSummary } from '../../src/admin/responses.ts';
import type { Actor } from '../../src/audit/index.ts';
import { adminCaller } from '../support/admin.ts';
import { createAuthenticator } from '../support/authenticator.ts';
import { startServer, type RunningServer } from '../support/server.ts';

let running: RunningServer;
let writeToken: string;
let readToken: string;
let writerId: string;

const PASSWORD = 'a long enough passphrase';

async function admin(method: string, path: string, body?: unknown, token = writeToken) {
  const response = await fetch(`${running.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, text, body: text ? JSON.parse(text) : undefined };
}

const services = () => running.server.services;

/** A person with an authenticator app, a passkey and recovery codes; the app's secret, to look for in answers. */
async function personWithFactors() {
  const email = `${crypto.randomUUID().slice(0, 8)}@example.com`;
  const { id } = await admin('POST', '/admin/users', { email, password: PASSWORD }).then((answer) => answer.body as { id: string });
  const actor: Actor = { type: 'user', id };
  const { secret } = await services().factors.totp.begin(id, email);
  const code = new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate();
  const confirmed = await services().factors.totp.confirm(id, code, actor);
  if (!confirmed.ok) throw new Error(`totp.confirm: ${confirmed.problem}`);
  const recoveryCodes = confirmed.recoveryCodes ?? [];
  const { hostname, origin } = new URL(running.url);
  const authenticator = createAuthenticator({ rpId: hostname, origin, synced: true });
  const binding = { kind: 'session' as const, uid: crypto.randomUUID() };
  const options = await services().factors.passkeys.registrationOptions({ id, email, name: null }, binding);
  const registered = await services().factors.passkeys.register(id, authenticator.attest(options), 'Phone', binding, actor);
  if (!registered.ok) throw new Error(`passkeys.register: ${registered.problem}`);
  return { id, email, secret, recoveryCodes };
}

/** No secret of the person's appears in `text`: the app's secret (either case) or a recovery code. */
function expectNoSecret(text: string, person: { secret: string; recoveryCodes: string[] }) {
  expect(text).not.toContain(person.secret);
  expect(text).not.toContain(person.secret.toLowerCase());
  for (const code of person.recoveryCodes) expect(text).not.toContain(code);
  expect(text).not.toMatch(/"(secret|public_key|publicKey|counter|code_hash)"/);
}

async function eventsAbout(subject: string, type: string) {
  return (await admin('GET', `/admin/audit-events?subject=${subject}&type=${type}`)).body.events as {
    actorType: string;
    actorId?: string;
    details?: Record<string, unknown>;
  }[];
}

beforeAll(async () => {
  running = await startServer();
  ({ clientId: writerId, token: writeToken } = await adminCaller(running, 'admin:write'));
  readToken = (await adminCaller(running, 'admin:read')).token;
});
afterAll(() => running.stop());

describe("a person's factors", () => {
  test('GET shows the app, the passkeys and the recovery codes left, in snake_case, never a secret', async () => {
    const person = await personWithFactors();
    const answer = await admin('GET', `/admin/users/${person.id}/factors`, undefined, readToken);
    expect(answer.status).toBe(200);
    expect(factorSummary.safeParse(answer.body).error?.issues ?? []).toEqual([]);
    expect(answer.body).toMatchObject({
      totp: { created_at: expect.any(String), last_used_at: null },
      passkeys: [{ id: expect.any(String), name: 'Phone', synced: true, created_at: expect.any(String), last_used_at: null }],
      recovery_codes_left: 10,
    });
    expectNoSecret(answer.text, person);
  });

  test('a person without factors has none', async () => {
    const { body } = await admin('POST', '/admin/users', { email: 'nofactors@example.com', password: PASSWORD });
    expect((await admin('GET', `/admin/users/${body.id}/factors`)).body).toEqual({ totp: null, passkeys: [], recovery_codes_left: 0 });
  });

  test.each([
    ['totp', { totp: null, passkeys: [{ name: 'Phone' }], recovery_codes_left: 10 }],
    ['passkeys', { totp: { last_used_at: null }, passkeys: [], recovery_codes_left: 10 }],
    ['recovery_codes', { totp: { last_used_at: null }, passkeys: [{ name: 'Phone' }], recovery_codes_left: 0 }],
  ])('reset of %s removes only those, answers what is left, and records mfa.reset as the admin client', async (which, left) => {
    const person = await personWithFactors();
    const answer = await admin('POST', `/admin/users/${person.id}/factors/reset`, { which });
    expect(answer.status).toBe(200);
    expect(factorSummary.safeParse(answer.body).error?.issues ?? []).toEqual([]);
    expect(answer.body).toMatchObject(left);
    expectNoSecret(answer.text, person);
    expect((await admin('GET', `/admin/users/${person.id}/factors`)).body).toEqual(answer.body);
    const [event] = await eventsAbout(person.id, 'mfa.reset');
    expect(event).toMatchObject({ actorType: 'admin', actorId: writerId, details: { which } });
    expectNoSecret(JSON.stringify(event), person);
  });

  test('reset without a body removes everything, and the old code and recovery codes stop working', async () => {
    const person = await personWithFactors();
    const answer = await admin('POST', `/admin/users/${person.id}/factors/reset`);
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ totp: null, passkeys: [], recovery_codes_left: 0 });
    expect((await eventsAbout(person.id, 'mfa.reset'))[0]).toMatchObject({ details: { which: 'all' } });
    expect(await services().factors.hasSecondFactor(person.id)).toBe(false);
    expect(await services().factors.recoveryCodes.use(person.id, person.recoveryCodes[0]!, { language: 'en' })).toBe('wrong');
    // An empty JSON object is the same request.
    expect((await admin('POST', `/admin/users/${person.id}/factors/reset`, {})).body).toEqual(answer.body);
  });

  test('an unknown user is a 404 in the standard shape, for both routes', async () => {
    for (const [method, path] of [
      ['GET', '/admin/users/no-such-user/factors'],
      ['POST', '/admin/users/no-such-user/factors/reset'],
    ] as const) {
      const answer = await admin(method, path, method === 'POST' ? { which: 'all' } : undefined);
      expect(answer.status).toBe(404);
      expect(answer.body).toMatchObject({ error: 'not_found', error_description: expect.any(String) });
    }
  });

  test.each([
    [{ which: 'everything' }, 'which'],
    [{ which: 1 }, 'which'],
    [{ which: 'all', also: 'x' }, 'also'],
  ])('reset with %j is a 400 naming %s', async (body, field) => {
    const person = await personWithFactors();
    const answer = await admin('POST', `/admin/users/${person.id}/factors/reset`, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_input', field });
    expect((await admin('GET', `/admin/users/${person.id}/factors`)).body.recovery_codes_left).toBe(10);
  });

  test('reading needs admin:read, resetting admin:write', async () => {
    const person = await personWithFactors();
    expect((await admin('GET', `/admin/users/${person.id}/factors`, undefined, 'not.a.jwt')).status).toBe(401);
    expect((await admin('POST', `/admin/users/${person.id}/factors/reset`, { which: 'all' }, readToken)).status).toBe(403);
    expect((await admin('GET', `/admin/users/${person.id}/factors`)).body.totp).not.toBeNull();
  });
});

describe("a person's mfa_required", () => {
  test('PATCH sets and clears it, the user list shows it, each change records user.mfa_required', async () => {
    const { body: created } = await admin('POST', '/admin/users', { email: 'always-mfa@example.com', password: PASSWORD });
    const listed = async () =>
      ((await admin('GET', '/admin/users', undefined, readToken)).body as { id: string; mfa_required: boolean }[]).find(
        (user) => user.id === created.id,
      );
    expect((await listed())?.mfa_required).toBe(false);
    const on = await admin('PATCH', `/admin/users/${created.id}`, { mfa_required: true });
    expect(on.status).toBe(200);
    expect(userSummary.safeParse(on.body).error?.issues ?? []).toEqual([]);
    expect(on.body).toMatchObject({ id: created.id, mfa_required: true });
    expect((await listed())?.mfa_required).toBe(true);
    expect((await services().users.findById(created.id))?.mfaRequired).toBe(true);
    const off = await admin('PATCH', `/admin/users/${created.id}`, { mfa_required: false });
    expect(off.body.mfa_required).toBe(false);
    const events = await eventsAbout(created.id, 'user.mfa_required');
    expect(events.map((event) => event.details)).toEqual([{ required: false }, { required: true }]);
    expect(events.every((event) => event.actorType === 'admin' && event.actorId === writerId)).toBe(true);
  });

  test.each([
    [{ mfa_required: 'yes' }, 'mfa_required'],
    [{ mfa_required: 1 }, 'mfa_required'],
    [{ mfa_required: null }, 'mfa_required'],
    [{}, 'mfa_required'],
    [{ mfa_required: true, disabled: true }, 'disabled'],
  ])('PATCH with %j is a 400 naming %s', async (body, field) => {
    const { body: created } = await admin('POST', '/admin/users', {
      email: `${crypto.randomUUID().slice(0, 8)}@example.com`,
      password: PASSWORD,
    });
    const answer = await admin('PATCH', `/admin/users/${created.id}`, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_input', field });
    expect((await services().users.findById(created.id))?.mfaRequired).toBe(false);
  });

  test('PATCH of an unknown user is a 404', async () => {
    const answer = await admin('PATCH', '/admin/users/no-such-user', { mfa_required: true });
    expect(answer.status).toBe(404);
    expect(answer.body).toMatchObject({ error: 'not_found' });
  });
});

describe("a client's require_mfa", () => {
  test('is false unless asked for, set at creation and by PATCH, and given to oidc-provider', async () => {
    const plain = await admin('POST', '/admin/clients', { name: 'plain', grant_types: ['client_credentials'] });
    expect((await admin('GET', `/admin/clients/${plain.body.client_id}`)).body.require_mfa).toBe(false);
    const web = {
      name: 'strict web',
      grant_types: ['authorization_code'],
      redirect_uris: ['https://app.example.com/cb'],
      require_mfa: true,
    };
    const strict = await admin('POST', '/admin/clients', web);
    expect(strict.status).toBe(201);
    const clientId = strict.body.client_id as string;
    expect((await admin('GET', `/admin/clients/${clientId}`)).body).toMatchObject({ require_mfa: true });
    expect((await services().clients.findProviderMetadata(clientId))?.require_mfa).toBe(true);

    const off = await admin('PATCH', `/admin/clients/${clientId}`, { require_mfa: false });
    expect(off.status).toBe(200);
    expect(off.body.require_mfa).toBe(false);
    expect((await services().clients.findProviderMetadata(clientId))?.require_mfa).toBeUndefined();
    expect((await admin('PATCH', `/admin/clients/${clientId}`, { require_mfa: true })).body.require_mfa).toBe(true);
    // A change of something else keeps it.
    expect((await admin('PATCH', `/admin/clients/${clientId}`, { name: 'renamed' })).body).toMatchObject({
      name: 'renamed',
      require_mfa: true,
    });
    const updates = await eventsAbout(clientId, 'client.updated');
    expect(updates.map((event) => event.details?.fields)).toEqual([['name'], ['require_mfa'], ['require_mfa']]);
  });

  test.each([
    ['POST', { name: 'x', grant_types: ['client_credentials'], require_mfa: 'yes' }],
    ['PATCH', { require_mfa: 'no' }],
  ])('%s with a non-boolean require_mfa is a 400 naming it', async (method, body) => {
    const created = await admin('POST', '/admin/clients', { name: 'target', grant_types: ['client_credentials'] });
    const path = method === 'POST' ? '/admin/clients' : `/admin/clients/${created.body.client_id}`;
    const answer = await admin(method, path, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: 'invalid_input', field: 'require_mfa' });
  });
});

test('the OpenAPI document lists the new routes with their schemas', async () => {
  const document = (await (await fetch(`${running.url}/admin/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { requestBody?: unknown; responses: Record<string, unknown> }>>;
  };
  expect(document.paths['/admin/users/{id}/factors']?.get?.responses['200']).toBeDefined();
  expect(document.paths['/admin/users/{id}/factors/reset']?.post?.requestBody).toBeDefined();
  expect(document.paths['/admin/users/{id}']?.patch?.requestBody).toBeDefined();
  for (const route of adminRoutes.filter((candidate) => candidate.path.startsWith('/admin/users/{id}'))) {
    if (route.body && route.example) expect(route.body.strict().safeParse(route.example).success).toBe(true);
  }
});
