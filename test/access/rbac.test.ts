// Roles at the token endpoint, end to end: an API registered with rbac gives a person, a client
// and a key only the scopes their roles give. A person signs in through the real pages
// (openid-client drives the code flow), tokens are checked with jose against /jwks, and a
// client-credentials client and a key exchange speak oauth4webapi. A role taken away narrows the
// next token, a refresh included, on this instance at once and on a second instance within a
// second; an explicit scope the roles do not give is invalid_scope.
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { logInWithCode } from '../support/browser.ts';
import { startSecondInstance, startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8123/callback';
const PASSWORD = 'a long and memorable passphrase';
/** An API with rbac and the roles claim. */
const NOTES = 'https://notes.example.com';
/** An API without rbac: anyone the client may ask for gets its scopes. */
const OPEN = 'https://open.example.com';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TOKEN_TYPE = 'urn:portcullis:params:oauth:token-type:api_key';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

let running: RunningServer;
let as: oauth.AuthorizationServer;
let appConfig: client.Configuration;
let machine: { client_id: string; client_secret?: string };
let exchanger: { client_id: string; client_secret?: string };
let people = 0;
const services = () => running.server.services;

beforeAll(async () => {
  running = await startServer();
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const { resources, roles, clients } = services();
  await resources.create(
    {
      audience: NOTES,
      scope: 'notes:read notes:write notes:admin',
      rbac: true,
      roles_claim: true,
      personal_key_scope: 'notes:read notes:write',
    },
    CLI_ACTOR,
  );
  await resources.create({ audience: OPEN, scope: 'open:read' }, CLI_ACTOR);
  await roles.create({ name: 'reader', permissions: [`${NOTES}:notes:read`] }, CLI_ACTOR);
  await roles.create({ name: 'writer', permissions: [`${NOTES}:notes:write`] }, CLI_ACTOR);
  const app = await clients.create(
    {
      name: 'Notes',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [REDIRECT],
      scope: 'notes:read notes:write notes:admin open:read',
    },
    CLI_ACTOR,
  );
  appConfig = await client.discovery(issuer, app.client_id, app.client_secret, undefined, { execute: [client.allowInsecureRequests] });
  machine = await clients.create(
    { name: 'worker', grant_types: ['client_credentials'], scope: 'notes:read notes:write open:read' },
    CLI_ACTOR,
  );
  exchanger = await clients.create({ name: 'gateway', grant_types: [TOKEN_EXCHANGE], scope: 'notes:read notes:write' }, CLI_ACTOR);
});
afterAll(() => running.stop());

const jwks = () => createRemoteJWKSet(new URL('/jwks', running.url));
const verified = async (token: string, audience: string) =>
  (await jwtVerify(token, jwks(), { issuer: running.url, audience, typ: 'at+jwt' })).payload as JWTPayload & {
    scope?: string;
    roles?: string[];
  };

/** A new person with these roles. */
async function person(roles: string[]) {
  people += 1;
  const email = `person${people}@example.com`;
  const { id } = await services().users.create({ email, password: PASSWORD }, CLI_ACTOR);
  for (const role of roles) await services().roles.assign(role, { user_id: id }, CLI_ACTOR);
  return { id, email };
}

const signInFor = (who: { email: string }, scope: string, resource = NOTES) =>
  logInWithCode(appConfig, { resource, scope, prompt: 'consent' }, { email: who.email, password: PASSWORD, redirectUri: REDIRECT });

describe('people', () => {
  test('a person gets only the scopes their roles give, and the roles claim says which', async () => {
    const reader = await person(['reader']);
    const { tokens } = await signInFor(reader, 'openid offline_access notes:read notes:write notes:admin');
    const payload = await verified(tokens.access_token, NOTES);
    expect(payload.scope).toBe('notes:read');
    expect(payload.roles).toEqual(['reader']);
    expect(payload.sub).toBe(reader.id);
  });

  test('consent covers only what the roles give: a role given later does not widen the grant', async () => {
    const writer = await person(['writer']);
    const { tokens } = await signInFor(writer, 'openid offline_access notes:read notes:write');
    expect((await verified(tokens.access_token, NOTES)).scope).toBe('notes:write');
    // The person never consented to notes:read (it was not offered), so holding the role now
    // does not put it in a refresh: the app must ask the person again.
    await services().roles.assign('reader', { user_id: writer.id }, CLI_ACTOR);
    const refreshed = await client.refreshTokenGrant(appConfig, tokens.refresh_token!, { resource: NOTES });
    expect((await verified(refreshed.access_token, NOTES)).scope).toBe('notes:write');
    const { tokens: again } = await signInFor(writer, 'openid notes:read notes:write');
    expect((await verified(again.access_token, NOTES)).scope?.split(' ').sort()).toEqual(['notes:read', 'notes:write']);
  });

  test('an API without rbac is not restricted by roles', async () => {
    const nobody = await person([]);
    const { tokens } = await signInFor(nobody, 'openid open:read', OPEN);
    expect((await verified(tokens.access_token, OPEN)).scope).toBe('open:read');
  });

  test('a person without any role gets no scope of an rbac API', async () => {
    const nobody = await person([]);
    const { tokens } = await signInFor(nobody, 'openid notes:read');
    const payload = await verified(tokens.access_token, NOTES);
    expect(payload.scope ?? '').toBe('');
    expect(payload.roles).toEqual([]);
  });

  test('a refresh after a role was taken away gets the narrower scope; naming the scope is invalid_scope', async () => {
    const both = await person(['reader', 'writer']);
    const { tokens } = await signInFor(both, 'openid offline_access notes:read notes:write');
    expect((await verified(tokens.access_token, NOTES)).scope).toBe('notes:read notes:write');
    await services().roles.unassign('writer', { user_id: both.id }, CLI_ACTOR);

    const refreshed = await client.refreshTokenGrant(appConfig, tokens.refresh_token!, { resource: NOTES });
    const narrowed = await verified(refreshed.access_token, NOTES);
    expect(narrowed.scope).toBe('notes:read');
    expect(narrowed.roles).toEqual(['reader']);

    const asked = await client.refreshTokenGrant(appConfig, refreshed.refresh_token!, { resource: NOTES, scope: 'notes:write' }).then(
      () => undefined,
      (error: unknown) => error as client.ResponseBodyError,
    );
    expect(asked).toBeInstanceOf(client.ResponseBodyError);
    expect(asked!.error).toBe('invalid_scope');

    // Given back, the next refresh carries it again (the grant still holds the consent).
    await services().roles.assign('writer', { user_id: both.id }, CLI_ACTOR);
    const again = await client.refreshTokenGrant(appConfig, refreshed.refresh_token!, { resource: NOTES });
    expect((await verified(again.access_token, NOTES)).scope).toBe('notes:read notes:write');
  });

  test('a role whose permission went narrows its holders too', async () => {
    await services().roles.create({ name: 'temporary', permissions: [`${NOTES}:notes:admin`] }, CLI_ACTOR);
    const admin = await person(['temporary']);
    const { tokens } = await signInFor(admin, 'openid offline_access notes:admin');
    expect((await verified(tokens.access_token, NOTES)).scope).toBe('notes:admin');
    await services().roles.update('temporary', { permissions: [] }, CLI_ACTOR);
    const refreshed = await client.refreshTokenGrant(appConfig, tokens.refresh_token!, { resource: NOTES });
    expect((await verified(refreshed.access_token, NOTES)).scope ?? '').toBe('');
  });
});

describe('clients', () => {
  const credentials = (scope?: string) =>
    oauth
      .clientCredentialsGrantRequest(
        as,
        { client_id: machine.client_id },
        oauth.ClientSecretBasic(machine.client_secret!),
        new URLSearchParams({ resource: NOTES, ...(scope ? { scope } : {}) }),
        insecure,
      )
      .then((response) => oauth.processClientCredentialsResponse(as, { client_id: machine.client_id }, response));

  test('a client without the role is refused the scope (invalid_scope); with it, gets it and the roles claim', async () => {
    const refused = await credentials('notes:write').then(
      () => undefined,
      (error: unknown) => error as oauth.ResponseBodyError,
    );
    expect(refused).toBeInstanceOf(oauth.ResponseBodyError);
    expect(refused!.error).toBe('invalid_scope');
    expect(refused!.cause).toMatchObject({ error_description: expect.stringContaining('roles') });

    await services().roles.assign('writer', { client_id: machine.client_id }, CLI_ACTOR);
    const token = await credentials('notes:write');
    const payload = await verified(token.access_token, NOTES);
    expect(payload.scope).toBe('notes:write');
    expect(payload.roles).toEqual(['writer']);
    // Without a scope, all that the client and its roles allow.
    expect((await verified((await credentials()).access_token, NOTES)).scope).toBe('notes:write');

    await services().roles.unassign('writer', { client_id: machine.client_id }, CLI_ACTOR);
    const after = await credentials('notes:write').then(
      () => undefined,
      (error: unknown) => error as oauth.ResponseBodyError,
    );
    expect(after?.error).toBe('invalid_scope');
  });
});

describe('API keys', () => {
  test("a person's key on an rbac API carries at most what the person's roles give now", async () => {
    const reader = await person(['reader', 'writer']);
    const made = await services().apiKeys.create(
      { name: 'cli', scope: 'notes:read notes:write', audiences: [NOTES] },
      { type: 'user', id: reader.id },
    );
    const exchange = (scope?: string) =>
      oauth
        .genericTokenEndpointRequest(
          as,
          { client_id: exchanger.client_id },
          oauth.ClientSecretBasic(exchanger.client_secret!),
          TOKEN_EXCHANGE,
          new URLSearchParams({
            subject_token: made.key,
            subject_token_type: API_KEY_TOKEN_TYPE,
            resource: NOTES,
            ...(scope ? { scope } : {}),
          }),
          insecure,
        )
        .then((response) => oauth.processGenericTokenEndpointResponse(as, { client_id: exchanger.client_id }, response));
    expect((await verified((await exchange()).access_token, NOTES)).scope).toBe('notes:read notes:write');
    await services().roles.unassign('writer', { user_id: reader.id }, CLI_ACTOR);
    expect((await verified((await exchange()).access_token, NOTES)).scope).toBe('notes:read');
    const refused = await exchange('notes:write').then(
      () => undefined,
      (error: unknown) => error as oauth.ResponseBodyError,
    );
    expect(refused?.error).toBe('invalid_scope');
  });
});

describe('API keys, made and checked', () => {
  test("a person may not put on a key of their own what their roles do not give; introspection says the key's scope as the roles stand", async () => {
    const reader = await person(['reader']);
    const asReader = { type: 'user' as const, id: reader.id };
    await expect(
      services().apiKeys.create({ name: 'too wide', scope: 'notes:read notes:write', audiences: [NOTES] }, asReader),
    ).rejects.toMatchObject({
      field: 'scope',
      message: expect.stringContaining('notes:write'),
    });
    const made = await services().apiKeys.create({ name: 'reads', scope: 'notes:read', audiences: [NOTES] }, asReader);
    const introspect = async () => {
      const response = await oauth.introspectionRequest(
        as,
        { client_id: machine.client_id },
        oauth.ClientSecretBasic(machine.client_secret!),
        made.key,
        insecure,
      );
      return (await response.json()) as { active: boolean; scope?: string };
    };
    expect(await introspect()).toMatchObject({ active: true, scope: 'notes:read' });
    await services().roles.unassign('reader', { user_id: reader.id }, CLI_ACTOR);
    // Still a live key (it identifies its owner), with nothing of this API left to carry.
    expect(await introspect()).toMatchObject({ active: true, scope: '' });
  });
});

describe('two instances on one database', () => {
  test('a role taken away on one instance narrows a refresh on the other within a second', async () => {
    const second = await startSecondInstance(running);
    const secondUrl = second.url;
    try {
      const both = await person(['reader', 'writer']);
      const { tokens } = await signInFor(both, 'openid offline_access notes:read notes:write');
      // The second instance's token endpoint, with the same client (the issuer is the first's).
      const atSecond = new client.Configuration(
        { ...appConfig.serverMetadata(), token_endpoint: `${secondUrl}/token` } as unknown as client.ServerMetadata,
        appConfig.clientMetadata().client_id,
        appConfig.clientMetadata().client_secret as string,
      );
      client.allowInsecureRequests(atSecond);
      const first = await client.refreshTokenGrant(atSecond, tokens.refresh_token!, { resource: NOTES });
      expect((await verified(first.access_token, NOTES)).scope).toBe('notes:read notes:write');
      // Taken away through the first instance; the second's cache holds for at most a second.
      await services().roles.unassign('writer', { user_id: both.id }, CLI_ACTOR);
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const narrowed = await client.refreshTokenGrant(atSecond, first.refresh_token!, { resource: NOTES });
      expect((await verified(narrowed.access_token, NOTES)).scope).toBe('notes:read');
    } finally {
      await second.stop();
    }
  });
});

describe('audit', () => {
  test('every assignment and removal is an audit event', async () => {
    const events = await running.db.prisma.auditEvent.findMany({ where: { type: { in: ['role.assigned', 'role.unassigned'] } } });
    expect(events.filter((event) => event.type === 'role.assigned').length).toBeGreaterThanOrEqual(6);
    expect(events.filter((event) => event.type === 'role.unassigned').length).toBeGreaterThanOrEqual(3);
    for (const event of events) expect(['reader', 'writer', 'temporary']).toContain(event.subject);
  });
});
