// Organizations at the token endpoint, end to end: a member signs in through the real pages
// (openid-client drives the code flow) and asks for a token for one organization with
// resource=urn:portcullis:organization:ID; its JWT (checked with jose against /jwks) has that URN
// as audience, organization_id, and the scopes the member's organization roles give. Another
// organization is refused; leaving ends the organization's tokens at the next refresh. Clients and
// API keys an organization owns speak for it (oauth4webapi).
import * as oauth from 'oauth4webapi';
import * as client from 'openid-client';
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { logInWithCode, pkceAuthorization, signIn, UserAgent } from '../support/browser.ts';
import { linkIn, startMailServer, type MailServer } from '../support/mail.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8123/callback';
const PASSWORD = 'a long and memorable passphrase';
const BILLING = 'https://billing.example.com';
const ORGANIZATION = 'urn:portcullis:organization:';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TOKEN_TYPE = 'urn:portcullis:params:oauth:token-type:api_key';
const insecure = { [oauth.allowInsecureRequests]: true } as const;

let running: RunningServer;
let mail: MailServer;
let as: oauth.AuthorizationServer;
let appConfig: client.Configuration;
let acme: { id: string };
let globex: { id: string };
let people = 0;
const services = () => running.server.services;

type OrganizationToken = JWTPayload & { scope?: string; organization_id?: string };
const verified = async (token: string, audience: string) =>
  (await jwtVerify(token, createRemoteJWKSet(new URL('/jwks', running.url)), { issuer: running.url, audience, typ: 'at+jwt' }))
    .payload as OrganizationToken;

beforeAll(async () => {
  mail = await startMailServer();
  running = await startServer({ SMTP_URL: mail.url });
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  const { resources, organizations, clients } = services();
  await resources.create({ audience: BILLING, scope: 'invoices:read invoices:write' }, CLI_ACTOR);
  await organizations.createRole({ name: 'viewer', permissions: [`${BILLING}:invoices:read`] }, CLI_ACTOR);
  await organizations.createRole({ name: 'accountant', permissions: [`${BILLING}:invoices:write`], manage_keys: true }, CLI_ACTOR);
  acme = await organizations.create({ name: 'Acme' }, CLI_ACTOR);
  globex = await organizations.create({ name: 'Globex' }, CLI_ACTOR);
  const app = await clients.create(
    {
      name: 'Billing',
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [REDIRECT],
      scope: 'invoices:read invoices:write',
    },
    CLI_ACTOR,
  );
  appConfig = await client.discovery(issuer, app.client_id, app.client_secret, undefined, { execute: [client.allowInsecureRequests] });
});
afterAll(async () => {
  await running.stop();
  await mail.close();
});

async function member(organizationId: string, roles: string[]) {
  people += 1;
  const email = `member${people}@example.com`;
  const { id } = await services().users.create({ email, password: PASSWORD }, CLI_ACTOR);
  await services().organizations.addMember(organizationId, { user_id: id, roles }, CLI_ACTOR);
  return { id, email };
}

const signInFor = (who: { email: string }, parameters: Record<string, string>) =>
  logInWithCode(appConfig, { prompt: 'consent', ...parameters }, { email: who.email, password: PASSWORD, redirectUri: REDIRECT });

describe('organization tokens', () => {
  test("a member's token for their organization: its URN as audience, organization_id, their roles' scopes", async () => {
    const viewer = await member(acme.id, ['viewer']);
    const { tokens } = await signInFor(viewer, {
      resource: `${ORGANIZATION}${acme.id}`,
      scope: 'openid offline_access invoices:read invoices:write urn:portcullis:scope:organizations',
    });
    const payload = await verified(tokens.access_token, `${ORGANIZATION}${acme.id}`);
    expect(payload.organization_id).toBe(acme.id);
    expect(payload.scope).toBe('invoices:read');
    expect(payload.sub).toBe(viewer.id);
    // The ID token lists the person's organizations and roles.
    expect(tokens.claims()).toMatchObject({ organizations: [acme.id], organization_roles: [`${acme.id}:viewer`] });
  });

  test('the organizations claims come only with their scope', async () => {
    const viewer = await member(acme.id, ['viewer']);
    const { tokens } = await signInFor(viewer, { scope: 'openid' });
    expect(tokens.claims()).not.toHaveProperty('organizations');
  });

  test('a token for an organization the person is not in is refused (invalid_target)', async () => {
    const viewer = await member(acme.id, ['viewer']);
    const { url } = await pkceAuthorization(appConfig, {
      redirect_uri: REDIRECT,
      resource: `${ORGANIZATION}${globex.id}`,
      scope: 'openid invoices:read',
    });
    const step = await signIn(new UserAgent(), url, { email: viewer.email, password: PASSWORD, redirectUri: REDIRECT });
    expect(step.location).toBeDefined();
    const answer = new URL(step.location!);
    expect(`${answer.origin}${answer.pathname}`).toBe(REDIRECT);
    expect(answer.searchParams.get('error')).toBe('invalid_target');
    expect(answer.searchParams.get('code')).toBeNull();
  });

  test('an organization that does not exist is invalid_target before any sign-in', async () => {
    const { url } = await pkceAuthorization(appConfig, { redirect_uri: REDIRECT, resource: `${ORGANIZATION}nope`, scope: 'openid' });
    const step = await new UserAgent().request(url);
    expect(step.status).toBe(303);
    expect(new URL(step.location!).searchParams.get('error')).toBe('invalid_target');
  });

  test('a role changed in the organization narrows the next refresh; leaving ends the tokens (invalid_target)', async () => {
    const both = await member(acme.id, ['viewer', 'accountant']);
    const resource = `${ORGANIZATION}${acme.id}`;
    const { tokens } = await signInFor(both, { resource, scope: 'openid offline_access invoices:read invoices:write' });
    expect((await verified(tokens.access_token, resource)).scope?.split(' ').sort()).toEqual(['invoices:read', 'invoices:write']);
    await services().organizations.setMemberRoles(acme.id, both.id, { roles: ['viewer'] }, CLI_ACTOR);
    const narrowed = await client.refreshTokenGrant(appConfig, tokens.refresh_token!, { resource });
    expect((await verified(narrowed.access_token, resource)).scope).toBe('invoices:read');

    await services().organizations.removeMember(acme.id, both.id, { type: 'user', id: both.id });
    const refused = await client.refreshTokenGrant(appConfig, narrowed.refresh_token!, { resource }).then(
      () => undefined,
      (error: unknown) => error as client.ResponseBodyError,
    );
    expect(refused).toBeInstanceOf(client.ResponseBodyError);
    expect(refused!.error).toBe('invalid_target');
    const left = await running.db.prisma.auditEvent.findFirst({ where: { type: 'organization.member_left', actorId: both.id } });
    expect(left).toMatchObject({ subject: acme.id, actorType: 'user' });
  });
});

describe('what an organization owns', () => {
  test('a client that belongs to an organization: its client-credentials tokens carry organization_id', async () => {
    const worker = await services().clients.create(
      { name: 'acme sync', grant_types: ['client_credentials'], scope: 'invoices:read', organization_id: acme.id },
      CLI_ACTOR,
    );
    const response = await oauth.clientCredentialsGrantRequest(
      as,
      { client_id: worker.client_id },
      oauth.ClientSecretBasic(worker.client_secret!),
      { resource: BILLING },
      insecure,
    );
    const token = await oauth.processClientCredentialsResponse(as, { client_id: worker.client_id }, response);
    expect(await verified(token.access_token, BILLING)).toMatchObject({ organization_id: acme.id, sub: worker.client_id });
    await expect(
      services().clients.create(
        { name: 'x', grant_types: ['client_credentials'], scope: 'invoices:read', organization_id: 'nope' },
        CLI_ACTOR,
      ),
    ).rejects.toMatchObject({ field: 'organization_id', status: 400 });
  });

  test("an organization's API key speaks for the organization; only members who manage keys may make one", async () => {
    const exchanger = await services().clients.create(
      { name: 'gateway', grant_types: [TOKEN_EXCHANGE], scope: 'invoices:read' },
      CLI_ACTOR,
    );
    const viewer = await member(acme.id, ['viewer']);
    await expect(
      services().apiKeys.create(
        { name: 'k', scope: 'invoices:read', audiences: [BILLING], organization_id: acme.id },
        { type: 'user', id: viewer.id },
      ),
    ).rejects.toMatchObject({ field: 'organization_id' });
    const manager = await member(acme.id, ['accountant']);
    const made = await services().apiKeys.create(
      { name: 'acme export', scope: 'invoices:read', audiences: [BILLING], organization_id: acme.id },
      { type: 'user', id: manager.id },
    );
    expect(made).toMatchObject({ organization_id: acme.id, owner: null });
    const response = await oauth.genericTokenEndpointRequest(
      as,
      { client_id: exchanger.client_id },
      oauth.ClientSecretBasic(exchanger.client_secret!),
      TOKEN_EXCHANGE,
      { subject_token: made.key, subject_token_type: API_KEY_TOKEN_TYPE, resource: BILLING },
      insecure,
    );
    const token = await oauth.processGenericTokenEndpointResponse(as, { client_id: exchanger.client_id }, response);
    expect(await verified(token.access_token, BILLING)).toMatchObject({ organization_id: acme.id, sub: `organization:${acme.id}` });
    // The organization cannot be deleted while its key lives.
    await expect(services().organizations.delete(acme.id, CLI_ACTOR)).rejects.toMatchObject({ status: 409 });
    // The manager lists and revokes it; a member who does not manage keys finds nothing.
    expect((await services().apiKeys.list({ organizationId: acme.id })).map((key) => key.id)).toContain(made.id);
    await expect(services().apiKeys.revoke(made.id, { type: 'user', id: viewer.id })).rejects.toMatchObject({ status: 404 });
    await services().apiKeys.revoke(made.id, { type: 'user', id: manager.id });
  });
});

describe('invitations', () => {
  test('an invitation is mailed over SMTP, accepted once by the invited address, and makes a member with its roles', async () => {
    const email = 'invitee@example.com';
    const { id } = await services().users.create({ email, password: PASSWORD }, CLI_ACTOR);
    const invitation = await services().organizations.invite(globex.id, { email, roles: ['viewer'] }, CLI_ACTOR);
    expect(invitation).toMatchObject({ email, roles: ['viewer'], accepted_at: null });
    const received = await mail.next(email, { subject: /Globex/ });
    const link = new URL(linkIn(received, `${running.url}/organization-invitation?token=`));
    const token = link.searchParams.get('token')!;
    // Only the keyed hash of the link's token is kept.
    const rows = JSON.stringify(await running.db.prisma.organizationInvitation.findMany());
    expect(rows).not.toContain(token);
    expect(await services().organizations.checkInvitation('x'.repeat(43))).toEqual({ ok: false, reason: 'unknown' });
    await expect(
      services().organizations.acceptInvitation(token, { id: 'someone', email: 'other@example.com' }, CLI_ACTOR),
    ).rejects.toMatchObject({ field: 'email' });
    expect(await services().organizations.acceptInvitation(token, { id, email }, { type: 'user', id })).toMatchObject({ ok: true });
    expect(await services().organizations.acceptInvitation(token, { id, email }, { type: 'user', id })).toEqual({
      ok: false,
      reason: 'used',
    });
    expect(await services().organizations.membership(id, globex.id)).toMatchObject({ roles: ['viewer'] });
    const types = (await running.db.prisma.auditEvent.findMany({ where: { subject: globex.id } })).map((event) => event.type);
    expect(types).toEqual(expect.arrayContaining(['organization.invitation_sent', 'organization.invitation_accepted']));
  });
});
