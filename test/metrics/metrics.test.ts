// Signals for operators: Prometheus metrics, health and readiness, audit retention.
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

let running: RunningServer;
beforeAll(async () => {
  running = await startServer();
});
afterAll(() => running.stop());

async function metrics(): Promise<string> {
  const response = await fetch(`${running.url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return response.text();
}

function value(text: string, series: string): number {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

test('requests, latency, tokens by grant type and API-key checks by outcome are counted', async () => {
  await cli(['resource', 'create', '--audience', 'https://m.example.com', '--scope', 'r', '--json'], running.env);
  const service = (
    await cli(['client', 'create', '--name', 'm', '--grant', 'client_credentials', '--scope', 'r', '--json'], running.env)
  ).json<{ client_id: string; client_secret: string }>();
  const { key } = (await cli(['apikey', 'create', '--name', 'k', '--scope', 'r', '--json'], running.env)).json<{ key: string }>();
  const before = await metrics();
  const basic = basicAuth(service.client_id, service.client_secret);
  for (let i = 0; i < 2; i += 1) {
    expect(
      (
        await fetch(`${running.url}/token`, {
          method: 'POST',
          headers: basic,
          body: new URLSearchParams({ grant_type: 'client_credentials' }),
        })
      ).status,
    ).toBe(200);
  }
  await fetch(`${running.url}/token/introspection`, { method: 'POST', headers: basic, body: new URLSearchParams({ token: key }) });
  await fetch(`${running.url}/token/introspection`, {
    method: 'POST',
    headers: basic,
    body: new URLSearchParams({ token: `${key.slice(0, -1)}${key.endsWith('x') ? 'y' : 'x'}` }),
  });
  await fetch(`${running.url}/no/such/path/${Math.random()}`);
  const after = await metrics();

  const tokens = 'portcullis_tokens_issued_total{grant_type="client_credentials"}';
  expect(value(after, tokens) - value(before, tokens)).toBe(2);
  const tokenRequests = 'portcullis_http_requests_total{route="token",method="POST",status="200"}';
  expect(value(after, tokenRequests) - value(before, tokenRequests)).toBe(2);
  expect(value(after, 'portcullis_api_key_verifications_total{outcome="valid"}')).toBeGreaterThanOrEqual(1);
  expect(value(after, 'portcullis_api_key_verifications_total{outcome="malformed"}')).toBeGreaterThanOrEqual(1);
  expect(after).toContain('portcullis_http_request_duration_seconds_bucket{le="0.005",route="token",method="POST"}');
  expect(after).toContain('portcullis_database_errors_total 0');
  // Unknown paths share one label, so a scanner cannot blow up the number of series.
  expect(after).toContain('route="unmatched"');
  expect(after).not.toContain('/no/such/path');
});

test('/healthz says the process is up; /readyz checks the database and keys', async () => {
  expect(await (await fetch(`${running.url}/healthz`)).json()).toEqual({ status: 'ok' });
  const ready = (await (await fetch(`${running.url}/readyz`)).json()) as { status: string; signing_kid: string };
  expect(ready.status).toBe('ready');
  expect(ready.signing_kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
});

test('audit events older than the retention period are purged', async () => {
  const audit = running.server.services.audit;
  await audit.record({ type: 'test.old', actorType: 'system', outcome: 'success' });
  await running.db.prisma.auditEvent.updateMany({ where: { type: 'test.old' }, data: { at: new Date(Date.now() - 400 * 86_400_000) } });
  await audit.record({ type: 'test.new', actorType: 'system', outcome: 'success' });
  expect(await audit.purgeBefore(new Date(Date.now() - running.config.auditRetentionDays * 86_400_000))).toBeGreaterThanOrEqual(1);
  expect((await audit.query({ limit: 500, type: 'test.old' })).events).toEqual([]);
  expect((await audit.query({ limit: 500, type: 'test.new' })).events).toHaveLength(1);
});
