// The ceiling: bare oidc-provider with its in-memory adapter and the same key type, serving
// what it can of the scenarios (client credentials with JWT access tokens, JWKS, introspection
// of an opaque token). Run as its own process by bench/run.ts; prints its URL when listening.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair } from 'jose';
import Provider from 'oidc-provider';

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = { ...(await exportJWK(privateKey)), kid: 'ceiling', alg: 'ES256', use: 'sig' };
const server = http.createServer();
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const audience = 'https://bench.example.com';

const provider = new Provider(issuer, {
  jwks: { keys: [jwk as never] },
  clients: [
    {
      client_id: 'bench',
      client_secret: 'bench-secret-0123456789abcdef0123456789',
      grant_types: ['client_credentials'],
      redirect_uris: [],
      response_types: [],
      scope: 'read',
    },
  ],
  clientDefaults: { id_token_signed_response_alg: 'ES256' } as never,
  scopes: ['read'],
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: async () => undefined!,
      useGrantedResource: async () => true,
      getResourceServerInfo: async () => ({
        scope: 'read',
        audience,
        accessTokenTTL: 900,
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: 'ES256' } },
      }),
    },
  },
});
server.on('request', provider.callback());
console.log(JSON.stringify({ url: issuer, client_id: 'bench', client_secret: 'bench-secret-0123456789abcdef0123456789', audience }));
// Exit on SIGTERM rather than be killed by it, so that a `--cpu-prof` profile gets written.
process.once('SIGTERM', () => process.exit(0));
