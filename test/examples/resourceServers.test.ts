// The resource-server examples, run against a real Portcullis: what an API author copies must work.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createIntrospectionApi } from '../../examples/resource-server-introspection.ts';
import { createJwtApi } from '../../examples/resource-server-jwt.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';
import { basicAuth } from '../support/browser.ts';

const ORDERS = 'https://orders.example.com';
let running: RunningServer;
const apis: http.Server[] = [];

async function run(args: string[]) {
  return (await cli([...args, '--json'], running.env)).json<Record<string, string>>();
}

async function listen(server: http.Server): Promise<string> {
  apis.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function token(client: Record<string, string>, parameters: Record<string, string>) {
  const response = await fetch(`${running.url}/token`, {
    method: 'POST',
    headers: basicAuth(client.client_id, client.client_secret),
    body: new URLSearchParams({ grant_type: 'client_credentials', ...parameters }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

beforeAll(async () => {
  running = await startServer();
  await run(['resource', 'create', '--audience', ORDERS, '--scope', 'read write']);
  await run(['resource', 'create', '--audience', 'https://elsewhere.example.com', '--scope', 'read']);
});
afterAll(async () => {
  for (const api of apis) api.close();
  await running.stop();
});

test('the JWT example accepts a token for its audience and scope, and refuses the rest with RFC 6750 challenges', async () => {
  const url = await listen(
    await createJwtApi({ issuer: running.url, audience: ORDERS, routes: { '/orders': 'read', '/orders/new': 'write' } }),
  );
  const reader = await run(['client', 'create', '--name', 'reader', '--grant', 'client_credentials', '--scope', 'read']);
  const good = await token(reader, { resource: ORDERS });

  const ok = await fetch(`${url}/orders`, { headers: { authorization: `Bearer ${good}` } });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ caller: reader.client_id, scope: 'read' });

  const missing = await fetch(`${url}/orders`);
  expect(missing.status).toBe(401);
  expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_request"/);

  const scope = await fetch(`${url}/orders/new`, { headers: { authorization: `Bearer ${good}` } });
  expect(scope.status).toBe(403);
  expect(scope.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);

  const elsewhere = await token(reader, { resource: 'https://elsewhere.example.com' });
  const wrongAudience = await fetch(`${url}/orders`, { headers: { authorization: `Bearer ${elsewhere}` } });
  expect(wrongAudience.status).toBe(401);
  expect(wrongAudience.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);

  const forged = `${good.slice(0, -4)}AAAA`;
  expect((await fetch(`${url}/orders`, { headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
});

test('the introspection example asks Portcullis and honours revocation', async () => {
  const apiClient = await run(['client', 'create', '--name', 'reports-api', '--grant', 'client_credentials']);
  const url = await listen(
    await createIntrospectionApi({
      issuer: running.url,
      clientId: apiClient.client_id!,
      clientSecret: apiClient.client_secret!,
      routes: { '/reports': 'read' },
    }),
  );
  const caller = await run(['client', 'create', '--name', 'caller', '--grant', 'client_credentials', '--scope', 'read']);
  const opaque = await token(caller, {});

  const ok = await fetch(`${url}/reports`, { headers: { authorization: `Bearer ${opaque}` } });
  expect(ok.status).toBe(200);
  expect(await ok.json()).toMatchObject({ scope: 'read' });

  await fetch(`${running.url}/token/revocation`, {
    method: 'POST',
    headers: basicAuth(caller.client_id, caller.client_secret),
    body: new URLSearchParams({ token: opaque }),
  });
  const revoked = await fetch(`${url}/reports`, { headers: { authorization: `Bearer ${opaque}` } });
  expect(revoked.status).toBe(401);
  expect(revoked.headers.get('www-authenticate')).toMatch(/error="invalid_token"/);
});
