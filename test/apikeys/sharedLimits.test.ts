// With REDIS_URL, instances share rate-limit counts: requests through two servers on one
// database add up to one limit. Runs when TEST_REDIS_URL is set (CI sets it).
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { basicAuth, csrfFrom, formAction, UserAgent } from '../support/browser.ts';

const redisUrl = process.env.TEST_REDIS_URL;
const maybe = redisUrl ? describe : describe.skip;

maybe('rate limits across instances (Redis)', () => {
  let first: RunningServer;
  let second: RunningServer;

  beforeAll(async () => {
    // A trusted proxy header gives each run its own client IP, so runs do not add up in Redis.
    first = await startServer({ REDIS_URL: redisUrl!, LOGIN_MAX_FAILURES: '2', TOKEN_RATE_LIMIT: '3/30s', TRUST_PROXY_HOPS: '1' });
    // The second instance shares the first one's database and issuer.
    second = await startServer({
      REDIS_URL: redisUrl!,
      LOGIN_MAX_FAILURES: '2',
      TOKEN_RATE_LIMIT: '3/30s',
      // Locks are per account and source network: both instances must see the same client address.
      TRUST_PROXY_HOPS: '1',
      DATABASE_URL: first.testDatabase.url,
      ISSUER: first.url,
    });
  });
  afterAll(async () => {
    await second.server.close();
    await second.db.close();
    await second.testDatabase.drop();
    await first.stop();
  });

  test('two instances count one key against one limit', async () => {
    const rs = (await cli(['client', 'create', '--name', 'rs', '--grant', 'client_credentials', '--json'], first.env)).json<{
      client_id: string;
      client_secret: string;
    }>();
    const { key } = (
      await cli(['apikey', 'create', '--name', 'shared', '--scope', 'x', '--rate-limit', '4/30s', '--json'], first.env)
    ).json<{ key: string }>();
    const introspect = (server: RunningServer) =>
      fetch(`${server.url}/token/introspection`, {
        method: 'POST',
        headers: basicAuth(rs.client_id, rs.client_secret),
        body: new URLSearchParams({ token: key }),
      });
    const statuses = [];
    for (const server of [first, second, first, second, first, second]) statuses.push((await introspect(server)).status);
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
  });

  test('token endpoint limits and login locks are shared too', async () => {
    const svc = (await cli(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--json'], first.env)).json<{
      client_id: string;
      client_secret: string;
    }>();
    const request = (server: RunningServer) =>
      fetch(`${server.url}/token`, {
        method: 'POST',
        headers: basicAuth(svc.client_id, svc.client_secret),
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
    const statuses = [];
    for (const server of [first, second, first, second]) statuses.push((await request(server)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);

    const email = `shared-${Date.now()}@example.com`;
    const clientIp = `198.51.100.${Math.floor(Math.random() * 250) + 1}`;
    await cli(['user', 'create', '--email', email, '--password-stdin', '--json'], first.env, 'shared passphrase');
    const web = (
      await cli(
        [
          'client',
          'create',
          '--name',
          'web',
          '--public',
          '--grant',
          'authorization_code',
          '--redirect-uri',
          'http://127.0.0.1:8130/cb',
          '--json',
        ],
        first.env,
      )
    ).json<{ client_id: string }>();
    const attempt = async (server: RunningServer, password: string) => {
      const agent = new UserAgent();
      const query = new URLSearchParams({
        client_id: web.client_id,
        response_type: 'code',
        scope: 'openid',
        redirect_uri: 'http://127.0.0.1:8130/cb',
        code_challenge: 'a'.repeat(43),
        code_challenge_method: 'S256',
      });
      const page = await agent.follow(`${server.url}/auth?${query}`);
      const action = formAction(page.body, '/login', page.url).replace(new URL(page.url).host, new URL(server.url).host);
      return agent.postLogin(action, { form: { csrf: csrfFrom(page.body), email, password }, headers: { 'x-forwarded-for': clientIp } });
    };
    expect((await attempt(first, 'wrong one')).status).toBe(401);
    expect((await attempt(second, 'wrong two')).status).toBe(401);
    // Two failures across two instances lock the account, for that network, on both.
    expect((await attempt(first, 'shared passphrase')).status).toBe(429);
    expect((await attempt(second, 'shared passphrase')).status).toBe(429);
  });
});
