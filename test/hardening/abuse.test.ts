// Abuse and deployment behind a proxy: per-client limits at the token endpoint, HSTS and Secure
// cookies when the issuer is https, and which proxy headers are believed.
import { basicAuth } from '../support/browser.ts';
import { cli } from '../support/cli.ts';
import { startServer, type RunningServer } from '../support/server.ts';

/** Introspects a revoked API key with X-Forwarded-For and returns the IP the audit event recorded. */
async function recordedIp(running: RunningServer): Promise<string | undefined> {
  const rs = (await cli(['client', 'create', '--name', 'rs', '--grant', 'client_credentials', '--json'], running.env)).json<{
    client_id: string;
    client_secret: string;
  }>();
  const { id, key } = (await cli(['apikey', 'create', '--name', 'k', '--scope', 's', '--json'], running.env)).json<{
    id: string;
    key: string;
  }>();
  await running.server.services.apiKeys.revoke(id, { type: 'admin' });
  await fetch(`${running.url}/token/introspection`, {
    method: 'POST',
    headers: { ...basicAuth(rs.client_id, rs.client_secret), 'x-forwarded-for': '203.0.113.7' },
    body: new URLSearchParams({ token: key }),
  });
  await running.server.services.auditAggregates.flush(); // failures are counted per minute
  const { events } = await running.server.services.audit.query({ type: 'api_key.verification_failed', subject: id, limit: 1 });
  return events[0]?.ip;
}

test('the token endpoint limits each client (429 with Retry-After) without touching the others', async () => {
  const running = await startServer({ TOKEN_RATE_LIMIT: '3/30s' });
  try {
    const make = async (name: string) =>
      (await cli(['client', 'create', '--name', name, '--grant', 'client_credentials', '--json'], running.env)).json<{
        client_id: string;
        client_secret: string;
      }>();
    const [busy, quiet] = [await make('busy'), await make('quiet')];
    const request = (client: { client_id: string; client_secret: string }) =>
      fetch(`${running.url}/token`, {
        method: 'POST',
        headers: basicAuth(client.client_id, client.client_secret),
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
    const statuses = [];
    for (let i = 0; i < 4; i += 1) statuses.push((await request(busy)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await request(busy);
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await limited.json()).toMatchObject({ error: 'rate_limited' });
    // Other spellings oidc-provider routes to its token endpoint count against the same limit.
    for (const path of ['/TOKEN', '/token/', '/Token/']) {
      const other = await fetch(`${running.url}${path}`, {
        method: 'POST',
        headers: basicAuth(busy.client_id, busy.client_secret),
        body: new URLSearchParams({ grant_type: 'client_credentials' }),
      });
      expect([path, other.status]).toEqual([path, 429]);
    }
    expect((await request(quiet)).status).toBe(200);
  } finally {
    await running.stop();
  }
});

test('behind a trusted proxy with an https issuer: HSTS, Secure cookies, and the client IP from X-Forwarded-For', async () => {
  // A non-loopback issuer may not run on the built-in development secrets.
  const running = await startServer({
    ISSUER: 'https://id.example.com',
    TRUST_PROXY_HOPS: '1',
    COOKIE_KEYS: 'a-cookie-key-for-this-test-only-0123456789',
    KEY_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64url'),
  });
  try {
    const client = (
      await cli(
        ['client', 'create', '--name', 'web', '--grant', 'authorization_code', '--redirect-uri', 'https://app.example.com/cb', '--json'],
        running.env,
      )
    ).json<{ client_id: string }>();
    const response = await fetch(
      `${running.url}/auth?client_id=${client.client_id}&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('https://app.example.com/cb')}&code_challenge=${'a'.repeat(43)}&code_challenge_method=S256`,
      {
        redirect: 'manual',
        headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7', 'x-forwarded-host': 'id.example.com' },
      },
    );
    expect(response.status).toBe(303);
    expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    const cookies = response.headers.getSetCookie();
    expect(cookies.length).toBeGreaterThan(0);
    for (const cookie of cookies) {
      expect(cookie).toMatch(/; secure/i);
      expect(cookie).toMatch(/; httponly/i);
      expect(cookie).toMatch(/; samesite=lax/i);
    }
    expect(await recordedIp(running)).toBe('203.0.113.7');
  } finally {
    await running.stop();
  }
});

test('without proxy trust, X-Forwarded-* is ignored and http issuers get no HSTS', async () => {
  const running = await startServer();
  try {
    const response = await fetch(`${running.url}/healthz`, { headers: { 'x-forwarded-proto': 'https', 'x-forwarded-for': '203.0.113.7' } });
    expect(response.headers.get('strict-transport-security')).toBeNull();
    // Events record the address the connection came from, not what a header claims.
    expect(await recordedIp(running)).toMatch(/127\.0\.0\.1$/);
  } finally {
    await running.stop();
  }
});
