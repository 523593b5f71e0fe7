// With REDIS_URL, instances share rate-limit counts: requests through two servers on one
// database add up to one limit. Runs when TEST_REDIS_URL is set (CI sets it).
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

const redisUrl = process.env.TEST_REDIS_URL;
const maybe = redisUrl ? describe : describe.skip;

maybe('rate limits across instances (Redis)', () => {
  let first: RunningServer;
  let second: RunningServer;

  beforeAll(async () => {
    first = await startServer({ REDIS_URL: redisUrl! });
    // The second instance shares the first one's database.
    second = await startServer({ REDIS_URL: redisUrl!, DATABASE_URL: first.testDatabase.url });
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
});
