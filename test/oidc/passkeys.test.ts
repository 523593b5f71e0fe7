// Passkeys in the sign-in over real HTTP, answered by a software authenticator
// (test/support/authenticator.ts: real ES256 keys, CBOR attestation, signatures over what a
// browser would sign) and checked by @simplewebauthn/server inside Portcullis: adding one when a
// client requires a second factor, passwordless sign-in from the login page, a passkey as the
// second factor after a password, and what is refused: another person's credential, a replayed
// or foreign challenge, a wrong origin or rp id, a bad signature, a missing user verification,
// garbage. Enrolled through one instance, used through another (two servers, one database).
// Chromium's virtual authenticator drives the same pages in test/pages/passkeys.test.ts.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as client from 'openid-client';
import pino from 'pino';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { loadConfig } from '../../src/config/index.ts';
import { migrate, openDatabase, type Database } from '../../src/db/index.ts';
import { createServer, type Server } from '../../src/http/index.ts';
import { createAuthenticator, type SoftwareAuthenticator } from '../support/authenticator.ts';
import { csrfFrom, formAction, pkceAuthorization, UserAgent, type Step } from '../support/browser.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { testPepper } from '../support/server.ts';

const PASSWORD = 'a long enough passphrase';
const REDIRECT = 'https://app.example.com/callback';
const ACR_MFA = 'urn:portcullis:acr:mfa';

let testDatabase: TestDatabase;
const instances: { url: string; server: Server; db: Database; http: http.Server }[] = [];
let issuer: string;
let app: { client_id: string; client_secret?: string };
let strictApp: { client_id: string; client_secret?: string };
let people = 0;

const one = () => instances[0]!;
const two = () => instances[1]!;

async function person(): Promise<{ id: string; email: string }> {
  people += 1;
  const email = `passkey${people}@example.com`;
  const { id } = await one().server.services.users.create({ email, password: PASSWORD }, CLI_ACTOR);
  return { id, email };
}

/** The WebAuthn options a page carries for its script (JSON in a script element, `<` escaped). */
function optionsOn(page: Step): unknown {
  const match = /<script type="application\/json" id="webauthn-options">([^<]*)<\/script>/.exec(page.body);
  if (!match) throw new Error(`no WebAuthn options on the page: ${page.body.slice(0, 300)}`);
  return JSON.parse(match[1]!);
}

async function begin(agent: UserAgent, target: { client_id: string; client_secret?: string }, base: string) {
  const config = await client.discovery(
    new URL(issuer),
    target.client_id,
    target.client_secret,
    client.ClientSecretBasic(target.client_secret!),
    {
      execute: [client.allowInsecureRequests],
    },
  );
  const request = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
  // The issuer's URL names instance one; this browser talks to `base` (a load balancer's choice).
  const step = await agent.follow(request.url.replace(issuer, base), REDIRECT);
  return { step, request, config };
}

async function post(agent: UserAgent, page: Step, suffix: string, fields: Record<string, string>): Promise<Step> {
  const answer = await agent.postLogin(formAction(page.body, suffix, page.url), { form: { csrf: csrfFrom(page.body), ...fields } });
  if (answer.status === 303 && answer.location) return agent.follow(answer.location, REDIRECT);
  return answer;
}

async function finish(agent: UserAgent, step: Step, request: { verifier: string }, config: client.Configuration) {
  let last = step;
  if (!last.location?.startsWith(REDIRECT) && last.body.includes('/confirm"')) last = await post(agent, last, '/confirm', {});
  if (!last.location?.startsWith(REDIRECT)) throw new Error(`the sign-in stopped at ${last.status}: ${last.body.slice(0, 400)}`);
  return client.authorizationCodeGrant(config, new URL(last.location), { pkceCodeVerifier: request.verifier });
}

/** A person with a passkey, added in a sign-in through instance one (a client that requires a second factor). */
async function enrolled(synced = true): Promise<{ id: string; email: string; authenticator: SoftwareAuthenticator }> {
  const someone = await person();
  const authenticator = createAuthenticator({ rpId: new URL(issuer).hostname, origin: issuer, synced });
  const agent = new UserAgent();
  const { step, request, config } = await begin(agent, strictApp, one().url);
  const enrol = await post(agent, step, '/login', { email: someone.email, password: PASSWORD });
  expect(enrol.body).toContain('/enrol/passkey');
  const codes = await post(agent, enrol, '/enrol/passkey', { response: authenticator.attest(optionsOn(enrol)), name: 'Laptop' });
  expect(codes.body).toContain('Save your recovery codes');
  const tokens = await finish(agent, await post(agent, codes, '/continue', {}), request, config);
  expect(tokens.claims()).toMatchObject({ acr: ACR_MFA, amr: expect.arrayContaining(['pwd', synced ? 'swk' : 'hwk', 'mfa']) });
  return { ...someone, authenticator };
}

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  const listening = await Promise.all(
    [0, 1].map(async () => {
      const httpServer = http.createServer();
      await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', resolve));
      return httpServer;
    }),
  );
  const urls = listening.map((httpServer) => `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`);
  issuer = urls[0]!;
  // One public issuer for both, as behind a load balancer: the rp id and origin are the issuer's.
  const config = loadConfig({
    NODE_ENV: 'test',
    ISSUER: issuer,
    DATABASE_URL: testDatabase.url,
    HASH_PEPPER: testPepper,
    LOG_LEVEL: 'silent',
  });
  await migrate(config.databaseUrl);
  for (const [index, httpServer] of listening.entries()) {
    const db = openDatabase(config.databaseUrl, config);
    const server = await createServer({ config, db, logger: pino({ level: 'silent' }) });
    server.attach(httpServer);
    instances.push({ url: urls[index]!, server, db, http: httpServer });
  }
  const clients = one().server.services.clients;
  app = await clients.create({ name: 'Web app', grant_types: ['authorization_code'], redirect_uris: [REDIRECT] }, CLI_ACTOR);
  strictApp = await clients.create(
    { name: 'Bank', grant_types: ['authorization_code'], redirect_uris: [REDIRECT], require_mfa: true },
    CLI_ACTOR,
  );
}, 60_000);
afterAll(async () => {
  for (const instance of instances) {
    await instance.server.close();
    await instance.db.close();
  }
  await testDatabase.drop();
}, 60_000);

describe('passwordless', () => {
  test('a passkey added through one instance signs in without a password through the other: user verified, two factors in one', async () => {
    const someone = await enrolled();
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent, app, two().url);
    expect(step.body).toContain('autocomplete="username webauthn"');
    const signedIn = await post(agent, step, '/passkey', { response: someone.authenticator.assert(optionsOn(step)) });
    const tokens = await finish(agent, signedIn, request, config);
    expect(tokens.claims()).toMatchObject({ sub: someone.id, acr: ACR_MFA, amr: expect.arrayContaining(['swk', 'user', 'mfa']) });
    expect(tokens.claims()!.amr).not.toContain('pwd');
    const passkey = await one().db.prisma.passkey.findFirst({ where: { userId: someone.id } });
    expect(passkey?.lastUsedAt).not.toBeNull();
  });

  test('refused on the login page, never a 500: no user verification, a wrong origin, a wrong rp id, a bad signature, a replayed answer, garbage', async () => {
    const someone = await enrolled();
    const agent = new UserAgent();
    const { step } = await begin(agent, app, one().url);
    const cases: [string, (options: unknown) => string][] = [
      ['no user verification', (options) => someone.authenticator.assert(options, { userVerified: false })],
      ['wrong origin', (options) => someone.authenticator.assert(options, { origin: 'https://evil.example' })],
      ['wrong rp id', (options) => someone.authenticator.assert(options, { rpId: 'evil.example' })],
      ['bad signature', (options) => someone.authenticator.assert(options, { badSignature: true })],
      [
        'another challenge',
        (options) => someone.authenticator.assert(options, { challenge: Buffer.from('not the challenge').toString('base64url') }),
      ],
      ['garbage', () => 'this is not JSON'],
      ['a JSON of the wrong shape', () => JSON.stringify({ id: 1, response: 'x' })],
    ];
    let page = step;
    for (const [name, answer] of cases) {
      const refused = await post(agent, page, '/passkey', { response: answer(optionsOn(page)) });
      expect({ name, status: refused.status }).toEqual({ name, status: 401 });
      expect(refused.body).toContain('role="alert"');
      page = refused;
    }
    // One answer that would have been good, presented twice: the challenge is used once.
    const good = someone.authenticator.assert(optionsOn(page));
    const replayAgent = new UserAgent();
    const other = await begin(replayAgent, app, one().url);
    const first = await post(agent, page, '/passkey', { response: good });
    expect(first.status).toBe(200); // consent or the app: it signed in
    const replayed = await post(replayAgent, other.step, '/passkey', { response: good });
    expect(replayed.status).toBe(401);
    const failures = (await one().db.prisma.auditEvent.findMany({ where: { type: 'login', outcome: 'failure' } })).filter(
      (event) => (event.details as { method?: string } | null)?.method === 'passkey',
    );
    expect(failures.length).toBeGreaterThanOrEqual(cases.length + 1);
  });
});

describe('a passkey as the second factor', () => {
  test("after the password, the person's own passkey; another person's passkey is refused", async () => {
    const owner = await enrolled(false);
    const stranger = await enrolled();
    const agent = new UserAgent();
    const { step, request, config } = await begin(agent, app, two().url);
    const second = await post(agent, step, '/login', { email: owner.email, password: PASSWORD });
    expect(second.body).toContain('/second-factor/passkey');
    // The stranger's authenticator answers this challenge with the stranger's credential.
    const options = optionsOn(second) as { allowCredentials?: unknown[] };
    const foreign = stranger.authenticator.assert({ ...options, allowCredentials: [] });
    const refused = await post(agent, second, '/second-factor/passkey', { response: foreign });
    expect(refused.status).toBe(401);
    expect(refused.body).toContain('not registered for this account');
    const tokens = await finish(
      agent,
      await post(agent, refused, '/second-factor/passkey', { response: owner.authenticator.assert(optionsOn(refused)) }),
      request,
      config,
    );
    expect(tokens.claims()).toMatchObject({ sub: owner.id, acr: ACR_MFA, amr: expect.arrayContaining(['pwd', 'hwk', 'mfa']) });
  });
});
