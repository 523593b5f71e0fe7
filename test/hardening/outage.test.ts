// The database goes away and comes back: requests fail fast with 503 and a clear error,
// /readyz says so, and the server recovers by itself. PostgreSQL only (SQLite is a file in the
// process): the connection runs through a TCP relay on 127.0.0.1 that the test cuts and restores.
import net from 'node:net';
import { basicAuth } from '../support/browser.ts';
import { cli } from '../support/cli.ts';
import { createTestDatabase, testDatabaseProvider, type TestDatabase } from '../support/database.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const postgresOnly = testDatabaseProvider() === 'postgres' ? test : test.skip;

/** A relay to PostgreSQL that can be switched off (every connection cut) and on again. */
function relay(target: URL) {
  const sockets = new Set<net.Socket>();
  let server: net.Server | undefined;
  let port = 0;
  const listen = () =>
    new Promise<void>((resolve) => {
      server = net.createServer((socket) => {
        const upstream = net.connect(Number(target.port || 5432), target.hostname);
        for (const side of [socket, upstream]) {
          sockets.add(side);
          side.on('close', () => sockets.delete(side));
          side.on('error', () => undefined);
        }
        socket.pipe(upstream).pipe(socket);
      });
      server.listen(port, '127.0.0.1', () => {
        port = (server!.address() as net.AddressInfo).port;
        resolve();
      });
    });
  return {
    get port() {
      return port;
    },
    start: listen,
    async stop() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server!.close(() => resolve()));
    },
  };
}

let testDatabase: TestDatabase;
let running: RunningServer | undefined;
let link: ReturnType<typeof relay>;

afterAll(async () => {
  await running?.server.close();
  await running?.db.close().catch(() => undefined);
  await running?.testDatabase.drop();
  await link?.stop().catch(() => undefined);
  await testDatabase?.drop();
});

postgresOnly(
  'an unreachable database gives fast 503s and a failing /readyz; service resumes when it returns',
  async () => {
    testDatabase = await createTestDatabase();
    const target = new URL(testDatabase.url);
    link = relay(target);
    await link.start();
    const relayed = new URL(testDatabase.url);
    relayed.port = String(link.port);
    running = await startServer({ DATABASE_URL: relayed.toString() });
    const service = (await cli(['client', 'create', '--name', 'svc', '--grant', 'client_credentials', '--json'], { ...running.env })).json<{
      client_id: string;
      client_secret: string;
    }>();
    const token = () =>
      fetch(`${running!.url}/token`, {
        method: 'POST',
        headers: basicAuth(service.client_id, service.client_secret),
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
    expect((await token()).status).toBe(200);

    await link.stop();
    const started = Date.now();
    const failed = await token();
    expect(failed.status).toBe(503);
    expect(failed.headers.get('retry-after')).toBe('5');
    expect(await failed.json()).toMatchObject({ error: 'temporarily_unavailable' });
    expect(Date.now() - started).toBeLessThan(5000);
    const ready = await fetch(`${running.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ database: 'unreachable' });
    expect((await fetch(`${running.url}/admin/clients`)).status).toBe(401); // no database needed to refuse
    expect((await fetch(`${running.url}/healthz`)).status).toBe(200);

    await link.start();
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (status !== 200 && Date.now() < deadline) {
      status = (await token()).status;
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(status).toBe(200);
    expect((await fetch(`${running.url}/readyz`)).status).toBe(200);
    const metrics = await (await fetch(`${running.url}/metrics`)).text();
    expect(metrics).toMatch(/portcullis_database_errors_total [1-9]/);
  },
  60_000,
);
