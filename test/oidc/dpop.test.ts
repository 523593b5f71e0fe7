// DPoP (RFC 9449) on the grants Portcullis handles itself: client credentials and the RFC 8693
// exchange of an API key. Proofs come from an independent client library (oauth4webapi) or, for
// the malformed ones it will not make, from jose; tokens are checked with jose against the JWKS.
import * as oauth from 'oauth4webapi';
import { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, jwtVerify, type JWTPayload } from 'jose';
import { cliJson } from '../support/cli.ts';
import { badProofs, handmadeProof as madeProof, twoProofs, type ProofOptions } from '../support/dpop.ts';
import { startServer, type RunningServer } from '../support/server.ts';

const API = 'https://orders.example.com';
const TOKEN_EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const API_KEY_TOKEN_TYPE = 'urn:portcullis:params:oauth:token-type:api_key';
let running: RunningServer;
let as: oauth.AuthorizationServer;
let service: { client_id: string; client_secret: string };
let exchanger: { client_id: string };
let owner: { client_id: string };
let apiKey: string;
const insecure = { [oauth.allowInsecureRequests]: true } as const;

/** The CLI against this file's server, with --json; a failure throws. */
const run = (args: string[], stdin = '') => cliJson<Record<string, string>>(args, running.env, stdin);

/** A client registered with RFC 9449 section 5.2's `dpop_bound_access_tokens: true` (`--require-dpop`). */
const dpopBound = (args: string[]) => run(['client', 'create', '--require-dpop', ...args]);

beforeAll(async () => {
  running = await startServer();
  const issuer = new URL(running.url);
  as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, insecure));
  await run(['resource', 'create', '--audience', API, '--scope', 'orders:read orders:write']);
  service = (await run([
    'client',
    'create',
    '--name',
    'billing',
    '--grant',
    'client_credentials',
    '--scope',
    'orders:read',
  ])) as typeof service;
  exchanger = (await run([
    'client',
    'create',
    '--name',
    'key-exchanger',
    '--public',
    '--grant',
    TOKEN_EXCHANGE,
    '--scope',
    'orders:read',
  ])) as {
    client_id: string;
  };
  owner = (await run(['client', 'create', '--name', 'integration', '--grant', 'client_credentials'])) as { client_id: string };
  apiKey = (
    await run(['apikey', 'create', '--name', 'export', '--scope', 'orders:read', '--audience', API, '--owner-client', owner.client_id])
  ).key!;
});
afterAll(() => running.stop());

type Options = { DPoP?: oauth.DPoPHandle; [oauth.customFetch]?: typeof fetch };

function clientCredentials(parameters: Record<string, string>, options: Options = {}, client = service) {
  return oauth.clientCredentialsGrantRequest(
    as,
    { client_id: client.client_id },
    oauth.ClientSecretBasic(client.client_secret),
    parameters,
    {
      ...insecure,
      ...options,
    },
  );
}

function exchange(parameters: Record<string, string>, options: Options = {}, client = exchanger) {
  return oauth.genericTokenEndpointRequest(
    as,
    { client_id: client.client_id },
    oauth.None(),
    TOKEN_EXCHANGE,
    { subject_token: apiKey, subject_token_type: API_KEY_TOKEN_TYPE, ...parameters },
    { ...insecure, ...options },
  );
}

const grants = [
  ['client credentials', clientCredentials],
  ['API-key token exchange', exchange],
] as const;

async function proofKey() {
  const keyPair = await oauth.generateKeyPair('ES256');
  return { keyPair, jkt: await calculateJwkThumbprint(await exportJWK(keyPair.publicKey)) };
}

async function verify(token: string) {
  const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(as.jwks_uri!)), {
    issuer: as.issuer,
    audience: API,
    typ: 'at+jwt',
  });
  return payload as JWTPayload & { cnf?: { jkt?: string } };
}

async function json(response: Response) {
  return (await response.json()) as Record<string, unknown>;
}

async function expectError(response: Response, error: string) {
  expect(response.status).toBe(400);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = await json(response);
  expect(body).toMatchObject({ error, error_description: expect.any(String) });
  return body;
}

/** A proof oauth4webapi would not make: claims and header as given, for this server's token endpoint. */
const handmadeProof = (payload: Record<string, unknown>, options?: ProofOptions) => madeProof(as.token_endpoint!, payload, options);

/** The grant's request with a DPoP header of our own making. */
function withProof(grant: (typeof grants)[number][1], proof: string | string[], parameters: Record<string, string> = { resource: API }) {
  return grant(parameters, {
    [oauth.customFetch]: (url, init) => {
      const headers = new Headers(init?.headers);
      headers.delete('dpop');
      for (const value of [proof].flat()) headers.append('dpop', value);
      return fetch(url, { ...init, headers });
    },
  });
}

describe.each(grants)('%s', (_name, grant) => {
  test('with a proof the JWT is bound to its key (cnf.jkt, token_type DPoP); without one it stays Bearer', async () => {
    const { keyPair, jkt } = await proofKey();
    const response = await grant({ resource: API }, { DPoP: oauth.DPoP({}, keyPair) });
    expect(response.status).toBe(200);
    // RFC 9449 section 5: token_type DPoP, as sent (oauth4webapi lower-cases it when processing).
    const body = await json(response.clone());
    expect(body.token_type).toBe('DPoP');
    const processed = await oauth.processGenericTokenEndpointResponse(as, { client_id: 'any' }, response);
    expect(processed.token_type).toBe('dpop');
    // Section 6.1: the JWT access token carries the SHA-256 JWK thumbprint of the proof's key.
    const payload = await verify(body.access_token as string);
    expect(payload.cnf).toEqual({ jkt });

    const bearer = await grant({ resource: API });
    expect(bearer.status).toBe(200);
    const plain = await json(bearer);
    expect(plain.token_type).toBe('Bearer');
    expect((await verify(plain.access_token as string)).cnf).toBeUndefined();
  });

  test('a proof is single use: the same request replayed is invalid_dpop_proof', async () => {
    const { keyPair } = await proofKey();
    let sent: [Parameters<typeof fetch>[0], RequestInit | undefined] | undefined;
    const first = await grant(
      { resource: API },
      {
        DPoP: oauth.DPoP({}, keyPair),
        [oauth.customFetch]: (url, init) => {
          sent = [url, init];
          return fetch(url, init);
        },
      },
    );
    expect(first.status).toBe(200);
    expect((await json(first)).token_type).toBe('DPoP');
    // Byte for byte the same request (RFC 9449 section 11.1): the jti was seen.
    expect(new Headers(sent![1]!.headers).get('dpop')).toBeTruthy();
    await expectError(await fetch(...sent!), 'invalid_dpop_proof');
  });

  test('one proof sent by many requests at once is honoured exactly once', async () => {
    // RFC 9449 section 11.1: the jti is recorded atomically, so a race cannot pass it twice.
    const proof = await handmadeProof({});
    const answers = await Promise.all(Array.from({ length: 12 }, () => withProof(grant, proof)));
    expect(answers.filter((answer) => answer.status === 200)).toHaveLength(1);
    for (const answer of answers.filter((response) => response.status !== 200)) await expectError(answer, 'invalid_dpop_proof');
  });

  test('a proof for another URL or method is invalid_dpop_proof', async () => {
    // RFC 9449 section 4.3, checks 8 and 9.
    const { keyPair } = await proofKey();
    const elsewhere = oauth.DPoP({}, keyPair, {
      [oauth.modifyAssertion]: (_header, payload) => {
        payload.htu = new URL('/userinfo', as.issuer).href;
      },
    });
    await expectError(await grant({ resource: API }, { DPoP: elsewhere }), 'invalid_dpop_proof');
    const otherMethod = oauth.DPoP({}, keyPair, {
      [oauth.modifyAssertion]: (_header, payload) => {
        payload.htm = 'GET';
      },
    });
    await expectError(await grant({ resource: API }, { DPoP: otherMethod }), 'invalid_dpop_proof');
  });

  test('every malformed proof is 400 with the RFC 9449 error, never a 500', async () => {
    // The control: a handmade proof done right is accepted, so each refusal below is for its one fault.
    const good = await withProof(grant, await handmadeProof({}));
    expect(good.status).toBe(200);
    expect((await json(good)).token_type).toBe('DPoP');
    for (const { fault, proof, error } of await badProofs(as.token_endpoint!)) {
      const response = await withProof(grant, proof);
      expect([fault, response.status]).toEqual([fault, 400]);
      expect([fault, (await json(response)).error]).toEqual([fault, error]);
      // Section 8: a refusal for freshness comes with the nonce to use instead.
      if (error === 'use_dpop_nonce') expect(response.headers.get('dpop-nonce')).toBeTruthy();
    }
    // Two DPoP fields (section 4.3, check 1: exactly one).
    await expectError(await withProof(grant, await twoProofs(as.token_endpoint!)), 'invalid_dpop_proof');
  });

  test("the proof is checked before the grant's own rules, which still apply with a valid proof", async () => {
    const { keyPair } = await proofKey();
    const bad = await handmadeProof({ htu: 'https://elsewhere.example/token' });
    await expectError(await withProof(grant, bad, { resource: API, scope: 'orders:write' }), 'invalid_dpop_proof');
    await expectError(await grant({ resource: API, scope: 'orders:write' }, { DPoP: oauth.DPoP({}, keyPair) }), 'invalid_scope');
    await expectError(await grant({ resource: 'https://unknown.example.com' }, { DPoP: oauth.DPoP({}, keyPair) }), 'invalid_target');
  });
});

test('an opaque client-credentials token is bound too: introspection shows cnf.jkt and token_type DPoP', async () => {
  const { keyPair, jkt } = await proofKey();
  const response = await clientCredentials({}, { DPoP: oauth.DPoP({}, keyPair) });
  expect(response.status).toBe(200);
  const body = await json(response);
  expect(body.token_type).toBe('DPoP');
  const introspection = await oauth.introspectionRequest(
    as,
    { client_id: service.client_id },
    oauth.ClientSecretBasic(service.client_secret),
    body.access_token as string,
    insecure,
  );
  // RFC 9449 section 6.2.
  expect(await json(introspection)).toMatchObject({ active: true, token_type: 'DPoP', cnf: { jkt } });
});

test('a client registered with dpop_bound_access_tokens must send a proof, on either grant', async () => {
  const boundService = (await dpopBound(['--name', 'bound-service', '--grant', 'client_credentials', '--scope', 'orders:read'])) as {
    client_id: string;
    client_secret: string;
  };
  const boundExchanger = (await dpopBound([
    '--name',
    'bound-exchanger',
    '--public',
    '--grant',
    TOKEN_EXCHANGE,
    '--scope',
    'orders:read',
  ])) as {
    client_id: string;
  };
  const { keyPair, jkt } = await proofKey();

  // RFC 9449 section 5.2: refused without a proof (invalid_grant, as oidc-provider's own grants answer).
  await expectError(await clientCredentials({ resource: API }, {}, boundService), 'invalid_grant');
  await expectError(await exchange({ resource: API }, {}, boundExchanger), 'invalid_grant');

  const cc = await clientCredentials({ resource: API }, { DPoP: oauth.DPoP({}, keyPair) }, boundService);
  expect(cc.status).toBe(200);
  const ccBody = await json(cc);
  expect(ccBody.token_type).toBe('DPoP');
  expect((await verify(ccBody.access_token as string)).cnf).toEqual({ jkt });

  const exchanged = await exchange({ resource: API }, { DPoP: oauth.DPoP({}, keyPair) }, boundExchanger);
  expect(exchanged.status).toBe(200);
  const exchangedBody = await json(exchanged);
  expect(exchangedBody).toMatchObject({ token_type: 'DPoP', issued_token_type: 'urn:ietf:params:oauth:token-type:access_token' });
  const payload = await verify(exchangedBody.access_token as string);
  expect(payload).toMatchObject({ sub: owner.client_id, client_id: boundExchanger.client_id, cnf: { jkt } });
});
