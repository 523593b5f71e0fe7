// Nothing outlives its owner, and introspection answers only those who may ask: deleting a
// client revokes its API keys and the tokens exchanged from them; a disabled or reset person
// loses sessions, grants, refresh tokens and (while disabled) keys; a reused refresh token makes
// that grant's JWTs inactive; public clients may not introspect anything; a refresh token is
// described only to its own client; failed key checks are aggregated in the audit log.
import * as client from 'openid-client';
import { generateApiKey } from '../../src/apikeys/index.ts';
import { basicAuth, logInWithCode } from '../support/browser.ts';
import { cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8133/callback';
const API = 'https://ledger.example.com';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const KEY_TYPE = 'urn:portcullis:params:oauth:token-type:api_key';
type Credentials = { client_id: string; client_secret: string };

let running: RunningServer;
let resourceServer: Credentials;
let exchanger: { client_id: string };
let app: Credentials;
let appConfig: client.Configuration;

/** The CLI against this file's server, with --json; a failure throws. */
const run = <T = Record<string, string>>(args: string[], stdin = '') => cliJson<T>(args, running.env, stdin);

async function introspect(token: string, caller: { client_id: string; client_secret?: string } = resourceServer) {
  const response = await fetch(`${running.url}/token/introspection`, {
    method: 'POST',
    headers: caller.client_secret ? basicAuth(caller.client_id, caller.client_secret) : {},
    body: new URLSearchParams({ token, ...(caller.client_secret ? {} : { client_id: caller.client_id }) }),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as { active: boolean; token_type?: string; client_id?: string };
}

async function exchangeKey(key: string): Promise<string> {
  const response = await fetch(`${running.url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: EXCHANGE, client_id: exchanger.client_id, subject_token: key, subject_token_type: KEY_TYPE }),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

async function newUser(email: string) {
  return run<{ id: string }>(['user', 'create', '--email', email, '--password-stdin'], 'a long enough passphrase');
}

const logIn = (email: string) =>
  // OpenID Connect Core 11: offline_access needs prompt=consent.
  logInWithCode(
    appConfig,
    { scope: 'openid offline_access ledger:read', resource: API, prompt: 'consent' },
    {
      email,
      password: 'a long enough passphrase',
      redirectUri: REDIRECT,
    },
  );

beforeAll(async () => {
  running = await startServer();
  await run(['resource', 'create', '--audience', API, '--scope', 'ledger:read ledger:write']);
  resourceServer = await run<Credentials>(['client', 'create', '--name', 'ledger-api', '--grant', 'client_credentials']);
  exchanger = await run(['client', 'create', '--name', 'exchanger', '--public', '--grant', EXCHANGE, '--scope', 'ledger:read']);
  app = await run<Credentials>([
    'client',
    'create',
    '--name',
    'Ledger app',
    '--grant',
    'authorization_code',
    '--grant',
    'refresh_token',
    '--redirect-uri',
    REDIRECT,
    '--scope',
    'ledger:read',
  ]);
  appConfig = await client.discovery(new URL(running.url), app.client_id, app.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
});
afterAll(() => running.stop());

describe('nothing outlives its owner', () => {
  test('deleting a client revokes its API keys and the JWTs exchanged from them, each an audit event', async () => {
    const owner = await run<Credentials>(['client', 'create', '--name', 'integration', '--grant', 'client_credentials']);
    const { id, key } = await run<{ id: string; key: string }>([
      'apikey',
      'create',
      '--name',
      'nightly',
      '--scope',
      'ledger:read',
      '--audience',
      API,
      '--owner-client',
      owner.client_id,
    ]);
    const jwt = await exchangeKey(key);
    expect(await introspect(key)).toMatchObject({ active: true });
    expect(await introspect(jwt)).toMatchObject({ active: true });

    await running.server.services.clients.delete(owner.client_id, { type: 'admin' });
    expect(await introspect(key)).toEqual({ active: false });
    expect(await introspect(jwt)).toEqual({ active: false });
    const listed = (await run<{ id: string; revoked_at: string | null }[]>(['apikey', 'list'])).find((row) => row.id === id)!;
    expect(listed.revoked_at).not.toBeNull();
    const { events } = await running.server.services.audit.query({ type: 'api_key.revoked', subject: id, limit: 5 });
    expect(events[0]!.details).toMatchObject({ reason: 'owner_deleted', owner_client: owner.client_id });
  });

  test('a JWT exchanged from a key is inactive once the client that exchanged it is deleted', async () => {
    const { key } = await run<{ key: string }>(['apikey', 'create', '--name', 'kept', '--scope', 'ledger:read', '--audience', API]);
    const other = await run<{ client_id: string }>([
      'client',
      'create',
      '--name',
      'short-lived',
      '--public',
      '--grant',
      EXCHANGE,
      '--scope',
      'ledger:read',
    ]);
    const response = await fetch(`${running.url}/token`, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: EXCHANGE, client_id: other.client_id, subject_token: key, subject_token_type: KEY_TYPE }),
    });
    const jwt = ((await response.json()) as { access_token: string }).access_token;
    expect(await introspect(jwt)).toMatchObject({ active: true });
    await running.server.services.clients.delete(other.client_id, { type: 'admin' });
    expect(await introspect(jwt)).toEqual({ active: false });
    expect(await introspect(key)).toMatchObject({ active: true }); // the key was not the client's
  });

  test('a key whose owning client is gone never verifies, even if nothing revoked it', async () => {
    const owner = await run<Credentials>(['client', 'create', '--name', 'vanishing', '--grant', 'client_credentials']);
    const { key } = await run<{ key: string }>([
      'apikey',
      'create',
      '--name',
      'k',
      '--scope',
      'ledger:read',
      '--owner-client',
      owner.client_id,
    ]);
    expect(await introspect(key)).toMatchObject({ active: true });
    await running.db.prisma.client.delete({ where: { id: owner.client_id } });
    running.server.services.apiKeys.forgetCached();
    expect(await introspect(key)).toEqual({ active: false });
  });

  test('disabling a person ends their sessions, grants and refresh tokens; their keys and JWTs stop until they are enabled', async () => {
    const user = await newUser('disabled@example.com');
    const { tokens } = await logIn('disabled@example.com');
    const { key } = await run<{ key: string }>([
      'apikey',
      'create',
      '--name',
      'mine',
      '--scope',
      'ledger:read',
      '--audience',
      API,
      '--owner-user',
      user.id,
    ]);
    const exchanged = await exchangeKey(key);
    expect(await introspect(tokens.access_token)).toMatchObject({ active: true });
    expect(await introspect(tokens.refresh_token!, app)).toMatchObject({ active: true });

    await running.server.services.users.setDisabled(user.id, true, { type: 'admin' });
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    expect(await introspect(tokens.refresh_token!, app)).toEqual({ active: false });
    expect(await introspect(key)).toEqual({ active: false });
    expect(await introspect(exchanged)).toEqual({ active: false });
    await expect(client.refreshTokenGrant(appConfig, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await running.server.services.grants.list({ account_id: user.id })).toEqual([]);

    await running.server.services.users.setDisabled(user.id, false, { type: 'admin' });
    expect(await introspect(key)).toMatchObject({ active: true });
    const { events } = await running.server.services.audit.query({ type: 'user.disabled', subject: user.id, limit: 1 });
    expect((events[0]!.details as { sessions_and_tokens_ended: number }).sessions_and_tokens_ended).toBeGreaterThanOrEqual(3);
  });

  test('resetting a password ends sessions, grants, refresh tokens, and the JWTs of those grants', async () => {
    const user = await newUser('reset@example.com');
    const { tokens } = await logIn('reset@example.com');
    await running.server.services.users.resetPassword(user.id, { password: 'a brand new passphrase' }, { type: 'admin' });
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    await expect(client.refreshTokenGrant(appConfig, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await running.server.services.users.listSessions(user.id)).toEqual([]);
    const { events } = await running.server.services.audit.query({ type: 'user.password_reset', subject: user.id, limit: 1 });
    expect(events).toHaveLength(1);
  });

  test("after a refresh token is reused, the grant's JWT access tokens introspect inactive", async () => {
    await newUser('reuse@example.com');
    const { tokens } = await logIn('reuse@example.com');
    const rotated = await client.refreshTokenGrant(appConfig, tokens.refresh_token!);
    expect(await introspect(rotated.access_token)).toMatchObject({ active: true });
    await expect(client.refreshTokenGrant(appConfig, tokens.refresh_token!)).rejects.toMatchObject({ error: 'invalid_grant' });
    expect(await introspect(tokens.access_token)).toEqual({ active: false });
    expect(await introspect(rotated.access_token)).toEqual({ active: false });
    const { events } = await running.server.services.audit.query({ type: 'refresh_token.reused', limit: 1 });
    expect(events[0]!.details).toMatchObject({ grant_revoked: true });
  });
});

describe('introspection answers only those who may ask', () => {
  test('a public client may not introspect API keys or JWTs', async () => {
    const { key } = await run<{ key: string }>(['apikey', 'create', '--name', 'k', '--scope', 'ledger:read', '--audience', API]);
    const jwt = await exchangeKey(key);
    expect(await introspect(key)).toMatchObject({ active: true });
    expect(await introspect(jwt)).toMatchObject({ active: true });
    expect(await introspect(key, exchanger)).toEqual({ active: false });
    expect(await introspect(jwt, exchanger)).toEqual({ active: false });
  });

  test('a refresh token is described only to the client it was issued to', async () => {
    await newUser('refresh-owner@example.com');
    const { tokens } = await logIn('refresh-owner@example.com');
    expect(await introspect(tokens.refresh_token!, app)).toMatchObject({ active: true, client_id: app.client_id });
    expect(await introspect(tokens.refresh_token!, resourceServer)).toEqual({ active: false });
  });

  test('a flood of failed key checks is a few audit rows with counts, not a row each', async () => {
    await running.server.services.auditAggregates.flush(); // what earlier tests left open
    const before = await running.db.prisma.auditEvent.count();
    const headers = basicAuth(resourceServer.client_id, resourceServer.client_secret);
    for (let i = 0; i < 60; i += 1) {
      await fetch(`${running.url}/token/introspection`, {
        method: 'POST',
        headers,
        body: new URLSearchParams({ token: generateApiKey(running.config.apiKeyPrefix) }),
      });
    }
    await running.server.services.auditAggregates.flush();
    const { events } = await running.server.services.audit.query({
      type: 'api_key.verification_failed',
      subject: running.config.apiKeyPrefix,
      limit: 10,
    });
    expect(events).toHaveLength(1);
    expect(events[0]!.details).toMatchObject({ reason: 'unknown', count: 60 });
    expect((await running.db.prisma.auditEvent.count()) - before).toBeLessThanOrEqual(2);
  });
});
