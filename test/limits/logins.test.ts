// Login limits under attack (src/limits/logins.ts): an attempt is counted before its password is
// checked, so a burst gets no more checks than the limit; locks are per account and source
// network, with a slower global bound per account, so the owner elsewhere can still sign in;
// blocked attempts are one audit row per account, network and minute. With TEST_REDIS_URL the
// same holds across two instances sharing their counts.
import crypto from 'node:crypto';
import * as client from 'openid-client';
import { cli } from '../support/cli.ts';
import { csrfFrom, formAction, pkceAuthorization, UserAgent, type Step } from '../support/browser.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const REDIRECT = 'http://127.0.0.1:8131/callback';
const PASSWORD = 'the right passphrase';
const redisUrl = process.env.TEST_REDIS_URL;

/** A unique email per run: counts kept in a shared Redis must not leak between runs. */
const uniqueEmail = (name: string) => `${name}-${crypto.randomBytes(4).toString('hex')}@example.com`;
/** A unique /24 per call, from 10.0.0.0/8. */
const uniqueNetwork = () => `10.${crypto.randomInt(256)}.${crypto.randomInt(256)}`;

async function setUp(running: RunningServer, email: string) {
  await cli(['user', 'create', '--email', email, '--password-stdin', '--json'], running.env, PASSWORD);
  const app = (
    await cli(
      ['client', 'create', '--name', 'App', '--public', '--grant', 'authorization_code', '--redirect-uri', REDIRECT, '--json'],
      running.env,
    )
  ).json<{ client_id: string }>();
  return client.discovery(new URL(running.url), app.client_id, undefined, client.None(), { execute: [client.allowInsecureRequests] });
}

/** Opens the login page of a new authorization request; returns a function that posts its form. */
async function loginPage(config: client.Configuration, server: RunningServer, ip: string) {
  const agent = new UserAgent();
  const { url } = await pkceAuthorization(config, { redirect_uri: REDIRECT, scope: 'openid' });
  const page = await agent.follow(url.replace(new URL(url).origin, server.url), REDIRECT);
  const action = formAction(page.body, '/login', page.url);
  const csrf = csrfFrom(page.body);
  return (email: string, password: string, via: RunningServer = server): Promise<Step> =>
    agent.postLogin(action.replace(server.url, via.url), { form: { csrf, email, password }, headers: { 'x-forwarded-for': ip } });
}

/** How many passwords were really checked for `email`: each failed check is one audit event. */
async function passwordChecks(running: RunningServer, email: string): Promise<number> {
  const { events } = await running.server.services.audit.query({ type: 'login', subject: email, limit: 500 });
  return events.filter((event) => event.outcome === 'failure').length;
}

describe('one instance', () => {
  let running: RunningServer;
  let config: client.Configuration;
  const owner = uniqueEmail('owner');

  beforeAll(async () => {
    running = await startServer({
      TRUST_PROXY_HOPS: '1',
      LOGIN_MAX_FAILURES: '5',
      LOGIN_ACCOUNT_MAX_FAILURES: '12',
      LOGIN_IP_MAX_FAILURES: '30',
      LOGIN_LOCK_SECONDS: '60',
    });
    config = await setUp(running, owner);
  });
  afterAll(() => running.stop());

  test('25 wrong passwords at once get at most LOGIN_MAX_FAILURES checks, and a right one inside the burst does not sign in', async () => {
    const ip = `${uniqueNetwork()}.7`;
    const post = await loginPage(config, running, ip);
    const burst = Array.from({ length: 24 }, () => post(owner, 'a wrong guess'));
    burst.push(post(owner, PASSWORD));
    const steps = await Promise.all(burst);
    expect(await passwordChecks(running, owner)).toBeLessThanOrEqual(5);
    expect(steps.filter((step) => step.status === 429).length).toBeGreaterThanOrEqual(20);
    // The right password came last: the lock was set before it could be checked.
    expect(steps.at(-1)!.status).toBe(429);
    expect(steps.every((step) => !step.location?.startsWith(REDIRECT))).toBe(true);
  });

  test('the owner still signs in from a network that has not failed', async () => {
    const attacker = await loginPage(config, running, `${uniqueNetwork()}.9`);
    for (let i = 0; i < 6; i += 1) await attacker(owner, 'a wrong guess');
    expect((await attacker(owner, PASSWORD)).status).toBe(429);
    const home = await loginPage(config, running, `${uniqueNetwork()}.20`);
    const step = await home(owner, PASSWORD);
    expect(step.status).toBe(303);
    // The locked network stays locked for the owner's account.
    expect((await attacker(owner, PASSWORD)).status).toBe(429);
  });

  test('failures from many networks meet the slower global limit per account; only the networks the owner signed in from stay open', async () => {
    const email = uniqueEmail('target');
    await cli(['user', 'create', '--email', email, '--password-stdin', '--json'], running.env, PASSWORD);
    const homeNetwork = `${uniqueNetwork()}.8`;
    expect((await (await loginPage(config, running, homeNetwork))(email, PASSWORD)).status).toBe(303);
    // 12 failures a day from every network together; 4 networks x 3 wrong guesses spend them.
    for (let network = 0; network < 4; network += 1) {
      const post = await loginPage(config, running, `${uniqueNetwork()}.1`);
      for (let i = 0; i < 3; i += 1) expect((await post(email, 'a wrong guess')).status).toBe(401);
    }
    const fresh = await loginPage(config, running, `${uniqueNetwork()}.1`);
    const blocked = await fresh(email, PASSWORD);
    expect(blocked.status).toBe(429);
    expect(await passwordChecks(running, email)).toBe(12);
    // The owner's own network is not held to the day's count the attackers spent.
    expect((await (await loginPage(config, running, homeNetwork))(email, PASSWORD)).status).toBe(303);
  });

  test('blocked attempts are one audit event per account, network and minute, with a count', async () => {
    const network = uniqueNetwork();
    const post = await loginPage(config, running, `${network}.3`);
    const email = uniqueEmail('flood');
    for (let i = 0; i < 5; i += 1) await post(email, 'a wrong guess');
    for (let i = 0; i < 10; i += 1) expect((await post(email, 'a wrong guess')).status).toBe(429);
    await running.server.services.auditAggregates.flush();
    const { events } = await running.server.services.audit.query({ type: 'login.blocked', subject: email, limit: 100 });
    expect(events).toHaveLength(1);
    expect(events[0]!.details).toMatchObject({ count: 10, network: `${network}.0/24`, reason: 'account_network_locked' });
  });
});

test('one source address gets at most LOGIN_IP_MAX_FAILURES password checks across accounts', async () => {
  const running = await startServer({ TRUST_PROXY_HOPS: '1', LOGIN_IP_MAX_FAILURES: '4' });
  try {
    const config = await setUp(running, uniqueEmail('someone'));
    const post = await loginPage(config, running, `${uniqueNetwork()}.44`);
    const emails = Array.from({ length: 8 }, (_, i) => uniqueEmail(`spray${i}`));
    const steps = await Promise.all(emails.map((email) => post(email, 'a wrong guess')));
    expect(steps.filter((step) => step.status === 401)).toHaveLength(4);
    expect(steps.filter((step) => step.status === 429)).toHaveLength(4);
    // An IPv6 host holds a whole /64: every address in it is one source.
    const prefix = `2001:db8:${crypto.randomInt(65536).toString(16)}:${crypto.randomInt(65536).toString(16)}`;
    const v6 = await Promise.all(
      emails.map(async (email, i) => (await loginPage(config, running, `${prefix}::${(i + 1).toString(16)}`))(email, 'a wrong guess')),
    );
    expect(v6.filter((step) => step.status === 401)).toHaveLength(4);
    expect(v6.filter((step) => step.status === 429)).toHaveLength(4);
  } finally {
    await running.stop();
  }
});

(redisUrl ? describe : describe.skip)('two instances sharing counts in Redis', () => {
  let first: RunningServer;
  let second: RunningServer;
  beforeAll(async () => {
    first = await startServer({ REDIS_URL: redisUrl!, TRUST_PROXY_HOPS: '1', LOGIN_MAX_FAILURES: '5' });
    second = await startServer({
      REDIS_URL: redisUrl!,
      TRUST_PROXY_HOPS: '1',
      LOGIN_MAX_FAILURES: '5',
      DATABASE_URL: first.testDatabase.url,
      ISSUER: first.url,
    });
  });
  afterAll(async () => {
    await second.server.close();
    await second.db.close();
    await first.stop();
  });

  test('a burst split across both gets at most LOGIN_MAX_FAILURES checks in all', async () => {
    const email = uniqueEmail('shared');
    const config = await setUp(first, email);
    const post = await loginPage(config, first, `${uniqueNetwork()}.5`);
    const steps = await Promise.all(Array.from({ length: 24 }, (_, i) => post(email, 'a wrong guess', i % 2 ? second : first)));
    expect(await passwordChecks(first, email)).toBeLessThanOrEqual(5);
    expect(steps.filter((step) => step.status === 429).length).toBeGreaterThanOrEqual(19);
  });
});
