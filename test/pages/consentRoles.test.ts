// What the consent page says of roles and organizations, over real HTTP: an API with rbac names
// the asked-for scopes the person's roles do not give (and the token has none of them); an
// organization's resource is named by the organization; the pick resource
// (urn:portcullis:organization) asks which of the person's organizations the app may use, and the
// code and tokens are then for the one picked (openid-client exchanges the code; jose checks the
// JWT against /jwks); an organization the person is not in is refused with a page.
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { csrfFrom, formAction, pkceAuthorization, signIn, UserAgent, type Step } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8127/callback';
const PASSWORD = 'a long and memorable passphrase';
const NOTES = 'https://notes.example.com';
const BILLING = 'https://billing.example.com';
const ORGANIZATION = 'urn:portcullis:organization:';
const PICK = 'urn:portcullis:organization';

let running: RunningServer;
let appConfig: client.Configuration;
let acme: { id: string };
let globex: { id: string };
let initech: { id: string };
let people = 0;
const services = () => running.server.services;

type AccessToken = JWTPayload & { scope?: string; organization_id?: string };
const verified = async (token: string, audience: string) =>
  (await jwtVerify(token, createRemoteJWKSet(new URL('/jwks', running.url)), { issuer: running.url, audience, typ: 'at+jwt' }))
    .payload as AccessToken;

beforeAll(async () => {
  running = await startServer();
  const { resources, roles, organizations, clients } = services();
  await resources.create({ audience: NOTES, name: 'Notes API', scope: 'notes:read notes:write notes:admin', rbac: true }, CLI_ACTOR);
  await resources.create({ audience: BILLING, name: 'Billing API', scope: 'invoices:read invoices:write' }, CLI_ACTOR);
  await roles.create({ name: 'reader', permissions: [`${NOTES}:notes:read`] }, CLI_ACTOR);
  await organizations.createRole(
    { name: 'viewer', description: 'Reads the invoices', permissions: [`${BILLING}:invoices:read`] },
    CLI_ACTOR,
  );
  await organizations.createRole({ name: 'accountant', permissions: [`${BILLING}:invoices:write`] }, CLI_ACTOR);
  acme = await organizations.create({ name: 'Acme Corporation' }, CLI_ACTOR);
  globex = await organizations.create({ name: 'Globex' }, CLI_ACTOR);
  initech = await organizations.create({ name: 'Initech' }, CLI_ACTOR);
  const app = await clients.create(
    {
      name: 'Ledger',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [REDIRECT],
      scope: 'notes:read notes:write notes:admin invoices:read invoices:write',
    },
    CLI_ACTOR,
  );
  appConfig = await client.discovery(new URL(running.url), app.client_id, app.client_secret, undefined, {
    execute: [client.allowInsecureRequests],
  });
});
afterAll(() => running.stop());

/** A new person with these roles, and these organization memberships. */
async function person(roles: string[], memberships: [organizationId: string, roles: string[]][] = []) {
  people += 1;
  const email = `consent${people}@example.com`;
  const { id } = await services().users.create({ email, password: PASSWORD }, CLI_ACTOR);
  for (const role of roles) await services().roles.assign(role, { user_id: id }, CLI_ACTOR);
  for (const [organizationId, held] of memberships)
    await services().organizations.addMember(organizationId, { user_id: id, roles: held }, CLI_ACTOR);
  return { id, email };
}

/** Signs `who` in for an authorization request and stops at the consent page. */
async function consentPage(who: { email: string }, parameters: Record<string, string>) {
  const agent = new UserAgent();
  const { url, verifier } = await pkceAuthorization(appConfig, { redirect_uri: REDIRECT, prompt: 'consent', ...parameters });
  const step = await signIn(agent, url, { email: who.email, password: PASSWORD, redirectUri: REDIRECT, consent: false });
  return { agent, step, verifier };
}

/** Answers the consent page with `form` and follows oidc-provider back to the app. */
const answer = (agent: UserAgent, page: Step, form: Record<string, string> = {}) =>
  agent.follow(formAction(page.body, '/confirm', page.url), REDIRECT, { form: { csrf: csrfFrom(page.body), ...form } });

const exchange = (step: Step, verifier: string) =>
  client.authorizationCodeGrant(appConfig, new URL(step.location!), { pkceCodeVerifier: verifier });

/** The text of a page, tags dropped and spaces joined, as a person reads it. */
const text = (html: string) => html.replace(/<[^>]+>/g, ' ').replace(/\s+/g, ' ');

describe('roles', () => {
  test('the consent page names the asked-for scopes of an rbac API that the roles do not give; the token has none of them', async () => {
    const reader = await person(['reader']);
    const { agent, step, verifier } = await consentPage(reader, { resource: NOTES, scope: 'openid notes:read notes:write notes:admin' });
    expect(step.status).toBe(200);
    const words = text(step.body);
    // Offered: what the role gives.
    expect(words).toContain('Use Notes API on your behalf with permission to: notes:read');
    // Refused, by the API's name: the rest, which the answer does not change.
    expect(words).toContain('Not available to your account');
    expect(words).toContain('On Notes API: notes:write, notes:admin');
    const back = await answer(agent, step);
    const tokens = await exchange(back, verifier);
    expect((await verified(tokens.access_token, NOTES)).scope).toBe('notes:read');
  });

  test('a person whose roles give everything asked sees no refusal', async () => {
    const reader = await person(['reader']);
    const { step } = await consentPage(reader, { resource: NOTES, scope: 'openid notes:read' });
    expect(step.status).toBe(200);
    expect(step.body).not.toContain('Not available to your account');
  });

  test('an API without rbac refuses nothing on the consent page', async () => {
    const nobody = await person([]);
    const { step } = await consentPage(nobody, { resource: BILLING, scope: 'openid invoices:read' });
    expect(step.body).toContain('Billing API');
    expect(step.body).not.toContain('Not available to your account');
  });

  test('in German the refusal is in German', async () => {
    const reader = await person(['reader']);
    const { step } = await consentPage(reader, { resource: NOTES, scope: 'openid notes:read notes:write', ui_locales: 'de' });
    expect(text(step.body)).toContain('Für Ihr Konto nicht verfügbar');
    expect(text(step.body)).toContain('Bei Notes API: notes:write');
  });
});

describe('organizations', () => {
  test("an organization's resource is named by the organization's name, not its URN", async () => {
    const viewer = await person([], [[acme.id, ['viewer']]]);
    const { step } = await consentPage(viewer, {
      resource: `${ORGANIZATION}${acme.id}`,
      scope: 'openid invoices:read urn:portcullis:scope:organizations',
    });
    expect(step.status).toBe(200);
    const words = text(step.body);
    expect(words).toContain('Act in the organization Acme Corporation on your behalf with permission to: invoices:read');
    expect(words).toContain('See which organizations you belong to and your roles in them');
    expect(step.body).not.toContain(`${ORGANIZATION}${acme.id}`);
  });

  test('the pick: the person chooses one of their organizations, and the code and tokens are for it', async () => {
    const member = await person(
      [],
      [
        [acme.id, ['viewer']],
        [globex.id, ['viewer', 'accountant']],
      ],
    );
    const { agent, step, verifier } = await consentPage(member, {
      resource: PICK,
      scope: 'openid offline_access invoices:read invoices:write',
    });
    expect(step.status).toBe(200);
    expect(text(step.body)).toContain('Which organization may Ledger use?');
    // Their organizations by name (sorted), each a radio button of the form; the first checked, one required.
    const radios = [...step.body.matchAll(/<input type="radio" name="organization" value="([^"]+)" required( checked)?>/g)];
    expect(radios.map((radio) => radio[1])).toEqual([acme.id, globex.id]);
    expect(radios.map((radio) => Boolean(radio[2]))).toEqual([true, false]);
    expect(step.body).toContain('Acme Corporation');
    expect(step.body).toContain('your roles: accountant, viewer');
    expect(step.body).not.toContain('Initech');

    const back = await answer(agent, step, { organization: globex.id });
    expect(back.location?.startsWith(REDIRECT)).toBe(true);
    expect(new URL(back.location!).searchParams.get('error')).toBeNull();
    const tokens = await exchange(back, verifier);
    const payload = await verified(tokens.access_token, `${ORGANIZATION}${globex.id}`);
    expect(payload.aud).toBe(`${ORGANIZATION}${globex.id}`);
    expect(payload.organization_id).toBe(globex.id);
    expect(payload.scope?.split(' ').sort()).toEqual(['invoices:read', 'invoices:write']);
    expect(payload.sub).toBe(member.id);

    // The refresh token is for the organization picked too, and the grant says so.
    const refreshed = await client.refreshTokenGrant(appConfig, tokens.refresh_token!);
    expect((await verified(refreshed.access_token, `${ORGANIZATION}${globex.id}`)).organization_id).toBe(globex.id);
    const [grant] = await services().grants.listForAccount(member.id);
    expect(Object.keys(grant!.resources)).toEqual([`${ORGANIZATION}${globex.id}`]);
  });

  test('the pick keeps the other resources asked for alongside it', async () => {
    const member = await person(['reader'], [[acme.id, ['viewer']]]);
    const agent = new UserAgent();
    const { url, verifier } = await pkceAuthorization(appConfig, {
      redirect_uri: REDIRECT,
      prompt: 'consent',
      resource: PICK,
      scope: 'openid invoices:read notes:read notes:write',
    });
    const both = new URL(url);
    both.searchParams.append('resource', NOTES);
    const step = await signIn(agent, both.toString(), { email: member.email, password: PASSWORD, redirectUri: REDIRECT, consent: false });
    expect(step.status).toBe(200);
    const words = text(step.body);
    expect(words).toContain('Use Notes API on your behalf with permission to: notes:read');
    expect(words).toContain('On Notes API: notes:write');
    expect(words).toContain('Which organization may Ledger use?');
    const back = await answer(agent, step, { organization: acme.id });
    expect(back.location?.startsWith(REDIRECT)).toBe(true);
    const [grant] = await services().grants.listForAccount(member.id);
    expect(Object.keys(grant!.resources).sort()).toEqual([`${ORGANIZATION}${acme.id}`, NOTES].sort());
    // Two resources: the app names the one it wants a token for (RFC 8707), each as consented.
    const tokens = await client.authorizationCodeGrant(
      appConfig,
      new URL(back.location!),
      { pkceCodeVerifier: verifier },
      { resource: `${ORGANIZATION}${acme.id}` },
    );
    const organizationToken = await verified(tokens.access_token, `${ORGANIZATION}${acme.id}`);
    expect(organizationToken).toMatchObject({ organization_id: acme.id, scope: 'invoices:read' });
  });

  test('an organization the person is not in is refused with a page (400), and nothing is granted', async () => {
    const member = await person([], [[acme.id, ['viewer']]]);
    const { agent, step } = await consentPage(member, { resource: PICK, scope: 'openid invoices:read' });
    expect(step.status).toBe(200);
    const refused = await agent.request(formAction(step.body, '/confirm', step.url), {
      form: { csrf: csrfFrom(step.body), organization: initech.id },
    });
    expect(refused.status).toBe(400);
    expect(refused.body).toContain('You are not a member of the organization chosen.');
    const none = await agent.request(formAction(step.body, '/confirm', step.url), { form: { csrf: csrfFrom(step.body) } });
    expect(none.status).toBe(400);
    expect(await services().grants.listForAccount(member.id)).toEqual([]);

    // The same consent page still takes one of theirs.
    const back = await answer(agent, step, { organization: acme.id });
    expect(back.location?.startsWith(REDIRECT)).toBe(true);
    expect(new URL(back.location!).searchParams.get('code')).not.toBeNull();
  });

  test('the pick for a person in no organization: no consent page, invalid_target back at the app', async () => {
    const loner = await person([]);
    const { step } = await consentPage(loner, { resource: PICK, scope: 'openid invoices:read' });
    expect(step.location?.startsWith(REDIRECT)).toBe(true);
    expect(new URL(step.location!).searchParams.get('error')).toBe('invalid_target');
  });
});
