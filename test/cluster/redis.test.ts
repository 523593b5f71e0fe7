// WORKERS=2 with REDIS_URL: the workers count their limits in Redis (as separate instances do),
// not in the primary, and the count is still one for the whole cluster.
import http from 'node:http';
import { Redis } from 'ioredis';
import { cliJson } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { freePort, startServeProcess, type ServeProcess } from '../support/process.ts';
import { testPepper } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

const redisUrl = process.env.TEST_REDIS_URL;
const API = 'https://stock.example.com';
let testDatabase: TestDatabase;
let cluster: ServeProcess | undefined;

afterAll(async () => {
  await cluster?.stop(30_000);
  await testDatabase?.drop();
}, 60_000);

/** One request on a new connection, so consecutive requests reach different workers. */
function post(url: string, headers: Record<string, string>, body: string) {
  return new Promise<number>((resolve, reject) => {
    const outgoing = http.request(url, { method: 'POST', headers, agent: false }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode!));
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

(redisUrl ? test : test.skip)(
  'the token endpoint limit is counted in Redis, once for every worker',
  async () => {
    testDatabase = await createTestDatabase();
    const env = { DATABASE_URL: testDatabase.url, HASH_PEPPER: testPepper, NODE_ENV: 'development' };
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    cluster = await startServeProcess(
      { ...env, WORKERS: '2', PORT: String(port), ISSUER: base, TOKEN_RATE_LIMIT: '5/1m', REDIS_URL: redisUrl! },
      60_000,
    );
    await cliJson(['resource', 'create', '--audience', API, '--scope', 'stock:read'], env);
    const client = await cliJson<{ client_id: string; client_secret: string }>(
      ['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--scope', 'stock:read'],
      env,
    );
    const headers = { ...basicAuth(client.client_id, client.client_secret), 'content-type': 'application/x-www-form-urlencoded' };
    const statuses: number[] = [];
    for (let i = 0; i < 10; i += 1)
      statuses.push(await post(`${base}/token`, headers, `grant_type=client_credentials&resource=${encodeURIComponent(API)}`));
    expect(statuses.filter((status) => status === 200)).toHaveLength(5);
    const workers = new Set(
      cluster
        .logs()
        .split('\n')
        .filter((line) => line.includes('"path":"/token"'))
        .map((line) => (JSON.parse(line) as { worker: number }).worker),
    );
    expect(workers).toEqual(new Set([1, 2]));
    // The count is in Redis, under the client's id.
    const redis = new Redis(redisUrl!);
    try {
      const keys = await redis.keys(`portcullis:*${client.client_id}*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
  },
  90_000,
);
