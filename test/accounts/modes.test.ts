// What SIGNUP and EMAIL_VERIFICATION change: with SIGNUP=invite there is no sign-up page and the
// login page does not link to one (it still offers the forgotten-password page); with
// EMAIL_VERIFICATION=optional an unverified account signs in, and its tokens say
// email_verified false until the address is confirmed. With REDIS_URL (TEST_REDIS_URL), two
// instances count mails against one limit.
import * as client from 'openid-client';
import { pkceAuthorization, UserAgent, logInWithCode } from '../support/browser.ts';
import { cliJson } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { Person, startWorld, STRONG_PASSWORD, type World } from './support.ts';

const REDIRECT = 'http://127.0.0.1:8126/callback';

describe('SIGNUP=invite, EMAIL_VERIFICATION=optional', () => {
  let world: World;
  let config: client.Configuration;
  beforeAll(async () => {
    world = await startWorld({ SIGNUP: 'invite', EMAIL_VERIFICATION: 'optional' });
    const app = await cliJson<{ client_id: string; client_secret: string }>(
      ['client', 'create', '--name', 'Notes', '--grant', 'authorization_code', '--redirect-uri', REDIRECT],
      world.running.env,
    );
    config = await client.discovery(new URL(world.running.url), app.client_id, app.client_secret, undefined, {
      execute: [client.allowInsecureRequests],
    });
  });
  afterAll(() => world.stop());

  test('no sign-up page, and no link to one; the forgotten-password link stays', async () => {
    const person = new Person(world.running.url);
    expect((await person.open('/signup')).status).toBe(404);
    const page = await person.open('/forgot-password');
    // Posting a sign-up anyway does nothing.
    const refused = await person.request('/signup', { form: { email: 'x@example.com', password: STRONG_PASSWORD } });
    expect([403, 404]).toContain(refused.status);
    expect(page.status).toBe(200);
    const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
    const login = await new UserAgent().follow(url);
    expect(login.body).not.toContain('/signup');
    expect(login.body).toContain('Forgot your password?');
  });

  test('an unverified account signs in, with email_verified false', async () => {
    const email = `optional.${Date.now()}@example.com`;
    await cliJson(['user', 'create', '--email', email, '--password-stdin', '--unverified'], world.running.env, STRONG_PASSWORD);
    const { tokens } = await logInWithCode(config, { scope: 'openid email' }, { email, password: STRONG_PASSWORD, redirectUri: REDIRECT });
    expect(await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub)).toMatchObject({ email, email_verified: false });
  });
});

const redisUrl = process.env.TEST_REDIS_URL;
(redisUrl ? describe : describe.skip)('mail limits shared through Redis', () => {
  let world: World;
  let second: RunningServer;
  beforeAll(async () => {
    world = await startWorld({ REDIS_URL: redisUrl! });
    second = await startServer({
      SIGNUP: 'open',
      SMTP_URL: world.mail.url,
      TRUST_PROXY_HOPS: '1',
      REDIS_URL: redisUrl!,
      DATABASE_URL: world.running.testDatabase.url,
      ISSUER: world.running.url,
    });
  });
  afterAll(async () => {
    await second.server.close();
    await second.db.close();
    await second.testDatabase.drop();
    await world.stop();
  });

  test('mails for one address through two instances add up to one limit', async () => {
    // A fresh address each run, so runs do not add up in Redis.
    const email = `shared.${Date.now()}.${Math.random().toString(36).slice(2, 6)}@example.com`;
    await cliJson(['user', 'create', '--email', email, '--password-stdin'], world.running.env, STRONG_PASSWORD);
    const ask = async (base: string, i: number) => {
      const person = new Person(base, `10.${i}.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`);
      // Each request is meant (not a retry of the last): the last link is made to look older.
      await world.running.db.prisma.accountToken.updateMany({ where: { email }, data: { createdAt: new Date(Date.now() - 120_000) } });
      return person.submit(await person.open('/forgot-password'), '/forgot-password', { email });
    };
    for (let i = 0; i < 5; i += 1) expect((await ask(i % 2 ? second.url : world.running.url, i)).post.location).toMatch(/\/sent$/);
    const sixth = await ask(second.url, 6);
    expect(sixth.post.location).toMatch(/\/forgot-password$/);
    expect(sixth.page.body).toContain('Too many mails were asked for');
  });
});
