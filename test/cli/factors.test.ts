// Second factors on the command line, run as an operator types it against a real database: a
// person's factors (never a secret) and their reset, a person's mfa_required, and a client's
// require_mfa through `client create`, `client update`, `client show` and list, and the manifest
// (export → apply). Factors are put in place through the factors service, as a person's own pages do.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as OTPAuth from 'otpauth';
import type { Actor } from '../../src/audit/index.ts';
import { cli, cliJson } from '../support/cli.ts';
import { createAuthenticator } from '../support/authenticator.ts';
import { eventsOf, startServices, type TestServices } from '../support/services.ts';
import { testPepper } from '../support/server.ts';

const PASSWORD = 'a long enough passphrase';

let running: TestServices;
let env: Record<string, string>;

beforeAll(async () => {
  running = await startServices();
  env = { DATABASE_URL: running.config.databaseUrl, HASH_PEPPER: testPepper, NODE_ENV: 'test', ISSUER: running.config.issuer };
});
afterAll(() => running.stop());

const factors = () => running.services.factors;

/** A person with an authenticator app, a device-bound passkey and recovery codes. */
async function personWithFactors() {
  const email = `${crypto.randomUUID().slice(0, 8)}@example.com`;
  const { id } = await cliJson<{ id: string }>(['user', 'create', '--email', email, '--password-stdin'], env, PASSWORD);
  const actor: Actor = { type: 'user', id };
  const { secret } = await factors().totp.begin(id, email);
  const confirmed = await factors().totp.confirm(id, new OTPAuth.TOTP({ secret: OTPAuth.Secret.fromBase32(secret) }).generate(), actor);
  if (!confirmed.ok) throw new Error(`totp.confirm: ${confirmed.problem}`);
  const { hostname, origin } = new URL(running.config.issuer);
  const binding = { kind: 'session' as const, uid: crypto.randomUUID() };
  const options = await factors().passkeys.registrationOptions({ id, email, name: null }, binding);
  const authenticator = createAuthenticator({ rpId: hostname, origin, synced: false });
  const registered = await factors().passkeys.register(id, authenticator.attest(options), 'Security key', binding, actor);
  if (!registered.ok) throw new Error(`passkeys.register: ${registered.problem}`);
  return { id, email, secret, recoveryCodes: confirmed.recoveryCodes ?? [] };
}

function expectNoSecret(text: string, person: { secret: string; recoveryCodes: string[] }) {
  expect(text).not.toContain(person.secret);
  expect(text).not.toContain(person.secret.toLowerCase());
  for (const code of person.recoveryCodes) expect(text).not.toContain(code);
}

describe('user factors', () => {
  test('--json gives the summary in snake_case; the table says it for people; neither holds a secret', async () => {
    const person = await personWithFactors();
    const json = await cli(['user', 'factors', person.email, '--json'], env);
    expect(json.code).toBe(0);
    expect(json.json()).toMatchObject({
      totp: { created_at: expect.any(String), last_used_at: null },
      passkeys: [{ name: 'Security key', synced: false, created_at: expect.any(String), last_used_at: null }],
      recovery_codes_left: 10,
    });
    expectNoSecret(json.stdout, person);
    const human = await cli(['user', 'factors', person.email.toUpperCase()], env);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^authenticator app: added \S+, never used$/m);
    expect(human.stdout).toMatch(/^ {2}Security key \(device-bound\), added \S+, never used/m);
    expect(human.stdout).toMatch(/^recovery codes: +10 left$/m);
    expectNoSecret(human.stdout, person);
  });

  test('a person without factors', async () => {
    await cliJson(['user', 'create', '--email', 'bare@example.com', '--password-stdin'], env, PASSWORD);
    expect(await cliJson(['user', 'factors', 'bare@example.com'], env)).toEqual({ totp: null, passkeys: [], recovery_codes_left: 0 });
    expect((await cli(['user', 'factors', 'bare@example.com'], env)).stdout).toBe(
      'authenticator app: (none)\npasskeys:          (none)\nrecovery codes:    0 left\n',
    );
  });

  test('an unknown person is not_found, for every command that names one', async () => {
    for (const args of [
      ['user', 'factors', 'nobody@example.com'],
      ['user', 'reset-factors', 'nobody@example.com'],
      ['user', 'require-mfa', 'nobody@example.com'],
    ]) {
      const result = await cli([...args, '--json'], env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(JSON.parse(result.stderr)).toMatchObject({ error: 'not_found' });
    }
    expect((await cli(['user', 'factors', 'nobody@example.com'], env)).stderr).toMatch(/^portcullis: .*nobody@example\.com/);
  });
});

describe('user reset-factors', () => {
  test('--only totp removes the app alone, prints what is left, and records mfa.reset as the CLI', async () => {
    const person = await personWithFactors();
    const events = await eventsOf(running, async () => {
      const left = await cliJson(['user', 'reset-factors', person.email, '--only', 'totp'], env);
      expect(left).toMatchObject({ totp: null, passkeys: [{ name: 'Security key' }], recovery_codes_left: 10 });
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'mfa.reset', actorType: 'admin', subject: person.id });
    expect(events[0]!.details).toMatchObject({ which: 'totp' });
    expectNoSecret(JSON.stringify(events), person);
  });

  test.each([
    ['passkeys', { passkeys: [] }],
    ['recovery_codes', { recovery_codes_left: 0 }],
  ])('--only %s', async (only, left) => {
    const person = await personWithFactors();
    expect(await cliJson(['user', 'reset-factors', person.email, '--only', only], env)).toMatchObject(left);
  });

  test('without --only everything goes; the table says so', async () => {
    const person = await personWithFactors();
    const result = await cli(['user', 'reset-factors', person.email], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^removed; what is left:\nauthenticator app: \(none\)\npasskeys: +\(none\)\nrecovery codes: +0 left\n$/);
    expect(await factors().hasSecondFactor(person.id)).toBe(false);
  });

  test('an unknown --only is refused naming the field and the flag, and nothing is removed', async () => {
    const person = await personWithFactors();
    const json = await cli(['user', 'reset-factors', person.email, '--only', 'everything', '--json'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'invalid_input', field: 'which' });
    const human = await cli(['user', 'reset-factors', person.email, '--only', 'everything'], env);
    expect(human.stderr).toMatch(/^portcullis: which \(--only\): must be one of all, totp, passkeys, recovery_codes/);
    expect((await factors().summary(person.id)).recoveryCodesLeft).toBe(10);
  });
});

describe('user require-mfa', () => {
  test('sets and (--off) clears it, shown by user list, each change recorded as user.mfa_required', async () => {
    const { id } = await cliJson<{ id: string }>(['user', 'create', '--email', 'strict@example.com', '--password-stdin'], env, PASSWORD);
    const events = await eventsOf(running, async () => {
      expect(await cliJson(['user', 'require-mfa', 'strict@example.com'], env)).toMatchObject({ id, mfa_required: true });
      const listed = await cliJson<{ email: string; mfa_required: boolean }[]>(['user', 'list'], env);
      expect(listed.find((user) => user.email === 'strict@example.com')?.mfa_required).toBe(true);
      expect((await cli(['user', 'list'], env)).stdout).toMatch(/^id\s+email\s+name\s+disabled\s+email_verified\s+mfa_required$/m);
      const off = await cli(['user', 'require-mfa', 'strict@example.com', '--off'], env);
      expect(off.stdout).toBe('strict@example.com: a second factor only when the client or MFA asks for one\n');
    });
    expect(events.map((event) => [event.type, event.actorType, event.subject, event.details])).toEqual([
      ['user.mfa_required', 'admin', id, { required: true }],
      ['user.mfa_required', 'admin', id, { required: false }],
    ]);
    expect((await running.services.users.findById(id))?.mfaRequired).toBe(false);
  });
});

describe('client require_mfa', () => {
  const web = ['--grant', 'authorization_code', '--redirect-uri', 'https://app.example.com/cb'];

  test('create --require-mfa; show and list say it; update --no-require-mfa and --require-mfa change it', async () => {
    const { client_id } = await cliJson<{ client_id: string }>(['client', 'create', '--name', 'strict', ...web, '--require-mfa'], env);
    expect(await cliJson(['client', 'show', client_id], env)).toMatchObject({ client_id, require_mfa: true });
    expect((await cli(['client', 'show', client_id], env)).stdout).toMatch(/^require_mfa: +true$/m);
    const listed = await cliJson<{ client_id: string; require_mfa: boolean }[]>(['client', 'list'], env);
    expect(listed.find((client) => client.client_id === client_id)?.require_mfa).toBe(true);
    expect((await cli(['client', 'list'], env)).stdout).toMatch(/^client_id\s+name\s+grant_types\s+scope\s+public\s+require_mfa$/m);

    expect(await cliJson(['client', 'update', client_id, '--no-require-mfa'], env)).toMatchObject({ require_mfa: false });
    expect(await cliJson(['client', 'update', client_id, '--name', 'renamed'], env)).toMatchObject({ name: 'renamed', require_mfa: false });
    expect(await cliJson(['client', 'update', client_id, '--require-mfa'], env)).toMatchObject({ require_mfa: true });
    expect((await running.services.clients.findProviderMetadata(client_id))?.require_mfa).toBe(true);
  });

  test('off unless asked for', async () => {
    const { client_id } = await cliJson<{ client_id: string }>(['client', 'create', '--name', 'relaxed', ...web], env);
    expect(await cliJson(['client', 'show', client_id], env)).toMatchObject({ require_mfa: false });
  });

  test('update and show of an unknown client are not_found; a bad value names the field and its flag', async () => {
    for (const args of [
      ['client', 'show', 'no-such-client'],
      ['client', 'update', 'no-such-client', '--require-mfa'],
    ]) {
      const result = await cli([...args, '--json'], env);
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stderr)).toMatchObject({ error: 'not_found' });
    }
    const { client_id } = await cliJson<{ client_id: string }>(['client', 'create', '--name', 'bad', ...web], env);
    const bad = await cli(['client', 'update', client_id, '--redirect-uri', 'http://evil.example/cb'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^portcullis: redirect_uris \(--redirect-uri\):/);
  });

  test('the manifest carries it: apply creates it, export writes it, apply again changes nothing, a file without it turns it off', async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-mfa-manifest-'));
    const file = path.join(folder, 'portcullis.yaml');
    const entry = [
      'portcullis: 1',
      'clients:',
      '  - client_id: mfa-web',
      '    name: MFA web',
      '    grant_types: [authorization_code]',
      '    redirect_uris: [https://mfa.example.com/cb]',
      '    public: true',
    ];
    fs.writeFileSync(file, [...entry, '    require_mfa: true', ''].join('\n'));
    const applied = await cliJson<{ summary: Record<string, number> }>(['apply', '-f', file], env);
    expect(applied.summary.create).toBe(1);
    expect(await cliJson(['client', 'show', 'mfa-web'], env)).toMatchObject({ require_mfa: true });
    const exported = await cli(['export'], env);
    expect(exported.stdout).toMatch(/client_id: mfa-web[\s\S]*require_mfa: true/);
    const exportedJson = await cliJson<{ clients: { client_id: string; require_mfa?: boolean }[] }>(['export'], env);
    expect(exportedJson.clients.find((client) => client.client_id === 'mfa-web')?.require_mfa).toBe(true);
    expect((await cliJson<{ summary: Record<string, number> }>(['apply', '-f', file], env)).summary).toMatchObject({
      update: 0,
      create: 0,
    });
    // What export wrote applies as it is, changing nothing.
    fs.writeFileSync(path.join(folder, 'exported.yaml'), exported.stdout);
    expect(
      (await cliJson<{ summary: Record<string, number> }>(['apply', '-f', path.join(folder, 'exported.yaml')], env)).summary,
    ).toMatchObject({ update: 0, create: 0 });
    fs.writeFileSync(file, [...entry, ''].join('\n'));
    const off = await cliJson<{ changes: { id: string; fields?: { field: string }[] }[] }>(['apply', '-f', file], env);
    expect(off.changes.find((change) => change.id === 'mfa-web')?.fields?.map((field) => field.field)).toEqual(['require_mfa']);
    expect(await cliJson(['client', 'show', 'mfa-web'], env)).toMatchObject({ require_mfa: false });
    fs.writeFileSync(file, [...entry, '    require_mfa: sometimes', ''].join('\n'));
    const bad = await cli(['apply', '-f', file, '--json'], env);
    expect(bad.code).toBe(1);
    expect(JSON.parse(bad.stderr)).toMatchObject({ error: 'invalid_input', field: 'clients[0].require_mfa' });
  });
});
