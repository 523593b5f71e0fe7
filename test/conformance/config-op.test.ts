// The OpenID Foundation conformance suite's Config OP plan (oidcc-config-certification-test-plan),
// re-implemented: its one module, oidcc-discovery-endpoint-verification, is a list of named
// conditions over the discovery document and the JWKS; each test here is one condition (or a
// few that check one field), named as the suite names it, with the spec section it cites.
// The suite needs Docker and MongoDB, which this machine cannot run; these tests are how we know
// what it would say. Where Portcullis departs from the suite on purpose, the test says so.
import { importJWK, type JWK } from 'jose';
import { startServer, type RunningServer } from '../support/server.ts';
import { productionEnv, rawGet } from './support.ts';

const DISCOVERY = '/.well-known/openid-configuration';

type Metadata = Record<string, unknown> & { issuer: string; jwks_uri: string };

/** The names of the metadata fields holding an endpoint's URL (the suite checks every `*_endpoint`, and the jwks_uri). */
const endpointFields = (metadata: Metadata) => [...Object.keys(metadata).filter((key) => key.endsWith('_endpoint')), 'jwks_uri'];

/** Asymmetric private members (RFC 7518 sections 6.2.2 and 6.3.2) and the symmetric key value (6.4.1). */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

const stringArray = (value: unknown): string[] => {
  expect(Array.isArray(value)).toBe(true);
  for (const item of value as unknown[]) expect(typeof item).toBe('string');
  return value as string[];
};

describe('oidcc-discovery-endpoint-verification', () => {
  let running: RunningServer;
  let response: Response;
  let metadata: Metadata;

  beforeAll(async () => {
    running = await startServer();
    response = await fetch(`${running.url}${DISCOVERY}`);
    metadata = (await response.json()) as Metadata;
  });
  afterAll(() => running.stop());

  test('EnsureDiscoveryEndpointResponseStatusCodeIs200, CheckDiscoveryEndpointReturnedJsonContentType (OIDCD-4)', () => {
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json\b/);
  });

  test('CheckDiscEndpointIssuer: the issuer is the URL the document was fetched from (OIDCD-4.3, OIDCD-7.2)', () => {
    const fetchedFrom = response.url.slice(0, -DISCOVERY.length);
    expect(metadata.issuer.replace(/\/$/, '')).toBe(fetchedFrom.replace(/\/$/, ''));
    expect(metadata.issuer).toBe(running.config.issuer);
  });

  test('CheckDiscEndpointIssuerIsValidUrl: an http(s) URL without query or fragment (RFC 8414 section 2)', () => {
    const issuer = new URL(metadata.issuer);
    expect(['http:', 'https:']).toContain(issuer.protocol);
    expect(issuer.search).toBe('');
    expect(issuer.hash).toBe('');
  });

  test('every metadata field OpenID Connect Discovery 1.0 section 3 requires, and userinfo_endpoint (recommended)', () => {
    for (const field of ['issuer', 'authorization_endpoint', 'token_endpoint', 'jwks_uri', 'userinfo_endpoint']) {
      expect({ field, value: typeof metadata[field] }).toEqual({ field, value: 'string' });
    }
    for (const field of ['response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported']) {
      expect(stringArray(metadata[field]).length).toBeGreaterThan(0);
    }
  });

  test('OIDCCCheckDiscEndpointResponseTypesSupported: code, and only code (OIDCD-3, OIDCC-3)', async () => {
    // The suite also asks for `id_token` and `token id_token` (the Dynamic OP's list, OpenID
    // Connect Discovery 1.0 section 3). Portcullis runs the code flow only (RFC 9700 section
    // 2.1.2: no implicit or hybrid flows), and lists exactly that: a request for an ID token from
    // the authorization endpoint is refused with RFC 6749's unsupported_response_type.
    expect(metadata.response_types_supported).toEqual(['code']);
    const client = await running.server.services.clients.create(
      { name: 'rp', grant_types: ['authorization_code'], redirect_uris: ['http://127.0.0.1:8123/cb'] },
      { type: 'system' },
    );
    const implicit = await fetch(
      `${metadata.authorization_endpoint as string}?${new URLSearchParams({
        client_id: client.client_id,
        response_type: 'id_token',
        redirect_uri: 'http://127.0.0.1:8123/cb',
        scope: 'openid',
        nonce: 'n-0S6_WzA2Mj',
        state: 'af0ifjsldkj',
      })}`,
      { redirect: 'manual' },
    );
    const location = new URL(implicit.headers.get('location')!);
    const parameters = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
    expect(`${location.origin}${location.pathname}`).toBe('http://127.0.0.1:8123/cb');
    expect(parameters.get('error')).toBe('unsupported_response_type');
    expect(parameters.get('state')).toBe('af0ifjsldkj');
    expect(parameters.get('id_token')).toBeNull();
  });

  test('CheckDiscEndpointSubjectTypesSupported: public or pairwise only (OIDCD-3)', () => {
    const types = stringArray(metadata.subject_types_supported);
    expect(types.length).toBeGreaterThan(0);
    for (const type of types) expect(['public', 'pairwise']).toContain(type);
  });

  test('OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported: the algorithm of the signing key, never none (OIDCD-3)', () => {
    // With the default SIGNING_KEY_ALG=ES256 that is ES256 alone; the suite requires RS256 (OpenID
    // Connect Core section 15.1), which SIGNING_KEY_ALG=RS256 gives (checked in production below).
    const algs = stringArray(metadata.id_token_signing_alg_values_supported);
    expect(algs).toEqual([running.config.signingKeyAlg]);
    expect(algs).not.toContain('none');
  });

  test('OIDCCCheckDiscEndpointUserinfoSigningAlgValuesSupported: absent (userinfo answers JSON), or never none', () => {
    const algs = metadata.userinfo_signing_alg_values_supported;
    if (algs !== undefined) expect(stringArray(algs)).not.toContain('none');
    else expect(metadata).not.toHaveProperty('userinfo_signing_alg_values_supported');
  });

  test('CheckDiscEndpointAuthorizationEndpoint, CheckDiscEndpointTokenEndpoint, CheckDiscEndpointUserinfoEndpoint: URLs of this server that answer (OIDCD-3)', async () => {
    for (const field of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint']) {
      expect(new URL(metadata[field] as string).origin).toBe(new URL(running.url).origin);
    }
    // Each answers as its spec says when called without credentials: an error page for a
    // browser, RFC 6749's JSON at the token endpoint, RFC 6750's challenge at userinfo.
    const authorization = await fetch(metadata.authorization_endpoint as string, { headers: { accept: 'text/html' } });
    expect(authorization.status).toBe(400);
    const token = await fetch(metadata.token_endpoint as string, {
      method: 'POST',
      body: new URLSearchParams({ grant_type: 'authorization_code' }),
    });
    expect(token.status).toBeGreaterThanOrEqual(400);
    expect(((await token.json()) as { error: string }).error).toMatch(/^invalid_(request|client)$/);
    const userinfo = await fetch(metadata.userinfo_endpoint as string);
    expect(userinfo.status).toBe(401);
    expect(userinfo.headers.get('www-authenticate')).toMatch(/^Bearer /);
  });

  test('CheckDiscEndpointRegistrationEndpoint: none while CLIENT_REGISTRATION is off (the default)', () => {
    expect(running.config.clientRegistration).toBe(false);
    expect(metadata).not.toHaveProperty('registration_endpoint');
  });

  describe('the JWKS', () => {
    let jwks: { keys: (JWK & Record<string, unknown>)[] };
    let jwksResponse: Response;
    beforeAll(async () => {
      jwksResponse = await fetch(metadata.jwks_uri);
      jwks = (await jwksResponse.json()) as typeof jwks;
    });

    test('CheckJwksUri, FetchServerKeys: the jwks_uri is a URL of this server that serves a key set (OIDCD-3)', () => {
      expect(new URL(metadata.jwks_uri).origin).toBe(new URL(running.url).origin);
      expect(jwksResponse.status).toBe(200);
      expect(Array.isArray(jwks.keys)).toBe(true);
      expect(jwks.keys.length).toBeGreaterThan(0);
    });

    test('ValidateServerJWKs: every key has kty and its public members in unpadded base64url, and imports (OIDCD-3)', async () => {
      for (const key of jwks.keys) {
        const members = key.kty === 'RSA' ? ['n', 'e'] : key.kty === 'EC' ? ['x', 'y'] : key.kty === 'OKP' ? ['x'] : [];
        expect({ kid: key.kid, kty: key.kty, known: members.length > 0 }).toEqual({ kid: key.kid, kty: key.kty, known: true });
        for (const member of members)
          expect({ kid: key.kid, member, value: key[member] }).toEqual({
            kid: key.kid,
            member,
            value: expect.stringMatching(/^[A-Za-z0-9_-]+$/),
          });
        await expect(importJWK(key, key.alg)).resolves.toBeDefined();
      }
    });

    test('EnsureServerJwksDoesNotContainPrivateOrSymmetricKeys (RFC 7518 section 6.3.2.1)', () => {
      for (const key of jwks.keys) {
        expect(key.kty).not.toBe('oct');
        expect(PRIVATE_MEMBERS.filter((member) => member in key)).toEqual([]);
      }
    });

    test('every key names itself (kid) and what it is for (use or alg), and the kids are unique', () => {
      for (const key of jwks.keys) {
        expect(typeof key.kid).toBe('string');
        expect(key.use === 'sig' || typeof key.alg === 'string').toBe(true);
      }
      expect(new Set(jwks.keys.map((key) => key.kid)).size).toBe(jwks.keys.length);
    });
  });

  test('CheckDiscEndpointRequestParameterSupported, CheckDiscEndpointRequestUriParameterSupported: booleans, as the server behaves', () => {
    // Request objects by value (RFC 9101) are taken (signed only: basic-op.test.ts); request_uri
    // from the client's own server is not (a pushed request is the way to send one by reference:
    // RFC 9126), and a request_uri is refused as that says (basic-op.test.ts).
    expect(metadata.request_parameter_supported).toBe(true);
    expect(metadata.request_uri_parameter_supported).toBe(false);
    expect(stringArray(metadata.request_object_signing_alg_values_supported)).not.toContain('none');
  });

  test('CheckDiscEndpointRequestObjectSigningAlgValuesSupportedIncludesRS256 (OIDCD-3), and never none', () => {
    const algs = stringArray(metadata.request_object_signing_alg_values_supported);
    expect(algs).toContain('RS256');
    expect(algs).not.toContain('none');
  });

  test('CheckDiscEndpointClaimsParameterSupported: the claims parameter is supported (OIDCD-3)', () => {
    expect(metadata.claims_parameter_supported).toBe(true);
  });

  test('OIDCCCheckDiscEndpointClaimsSupported: claims_supported names every claim a person can be asked for (OIDCD-3)', () => {
    const claims = stringArray(metadata.claims_supported);
    for (const claim of ['sub', 'iss', 'auth_time', 'name', 'email', 'email_verified']) expect(claims).toContain(claim);
  });

  test('OIDCCCheckDiscEndpointGrantTypesSupported: authorization_code and refresh_token (OIDCD-3)', () => {
    // The suite asks for implicit too (OpenID Connect Discovery 1.0 section 3's default for a
    // server that omits the field); Portcullis lists its grants and implicit is not one of them
    // (RFC 9700 section 2.1.2).
    const grants = stringArray(metadata.grant_types_supported);
    expect(grants).toEqual(expect.arrayContaining(['authorization_code', 'refresh_token']));
    expect(grants).not.toContain('implicit');
  });

  test('CheckDiscEndpointScopesSupportedContainsOpenId, CheckDiscEndpointScopesSupportedSyntax (OIDCD-3, RFC 6749 section 3.3)', () => {
    const scopes = stringArray(metadata.scopes_supported);
    expect(scopes).toContain('openid');
    // scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
    for (const scope of scopes) expect(scope).toMatch(/^[\x21\x23-\x5b\x5d-\x7e]+$/);
  });

  test('CheckDiscEndpointLocalesSyntax, CheckDiscEndpointLocalesCanonicalCasing: absent, or BCP 47 tags (RFC 8414 section 2)', () => {
    for (const field of ['ui_locales_supported', 'claims_locales_supported']) {
      const locales = metadata[field];
      if (locales === undefined) continue;
      for (const tag of stringArray(locales)) expect(tag).toMatch(/^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|\d{3}))?$/);
    }
  });

  test('EnsureServerConfigurationCodeChallengeMethodsSupportedIsAnArray: S256 (RFC 8414 section 2, RFC 7636 section 4.3)', () => {
    expect(metadata.code_challenge_methods_supported).toEqual(['S256']);
  });

  test('RFC 8414 section 3: the same document at /.well-known/oauth-authorization-server', async () => {
    const oauth = (await (await fetch(`${running.url}/.well-known/oauth-authorization-server`)).json()) as Metadata;
    expect(oauth).toEqual(metadata);
  });

  test('the endpoints name the ISSUER, whatever Host or request target the request came with', async () => {
    // A forged Host (or an absolute request target) must not put another server's name in a
    // document that caches may keep: a client would send its credentials there.
    const issuer = new URL(running.config.issuer).origin;
    const forged = [
      await rawGet(running, DISCOVERY, { host: 'evil.example' }),
      await rawGet(running, `http://evil.example${DISCOVERY}`, { host: 'evil.example' }),
    ];
    for (const { status, json } of forged) {
      expect(status).toBe(200);
      const document = json as Metadata;
      expect(document.issuer).toBe(running.config.issuer);
      for (const field of endpointFields(document)) {
        expect({ field, origin: new URL(document[field] as string).origin }).toEqual({ field, origin: issuer });
      }
    }
  });
});

describe('oidcc-discovery-endpoint-verification in production: NODE_ENV=production, an https ISSUER, behind a proxy', () => {
  let running: RunningServer;
  let metadata: Metadata;

  beforeAll(async () => {
    // SIGNING_KEY_ALG=RS256: the algorithm every OP must sign ID tokens with (OpenID Connect
    // Core section 15.1), which the suite requires in id_token_signing_alg_values_supported.
    running = await startServer({ ...productionEnv, SIGNING_KEY_ALG: 'RS256', TRUST_PROXY_HOPS: '1' });
    metadata = (await rawGet(running, DISCOVERY, { host: 'auth.example.com', 'x-forwarded-proto': 'https' })).json as Metadata;
  });
  afterAll(() => running.stop());

  test('the server runs the production configuration', () => {
    expect(running.config.production).toBe(true);
    expect(metadata.issuer).toBe(productionEnv.ISSUER);
  });

  test('CheckDiscEndpointDiscoveryUrl: the discovery URL is https and ends in /.well-known/openid-configuration', () => {
    const discoveryUrl = new URL(`${metadata.issuer}${DISCOVERY}`);
    expect(discoveryUrl.protocol).toBe('https:');
  });

  test('CheckDiscEndpointAllEndpointsAreHttps: every *_endpoint and the jwks_uri is https on the issuer', () => {
    const fields = endpointFields(metadata);
    expect(fields).toEqual(expect.arrayContaining(['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri']));
    for (const field of fields) {
      expect({ field, origin: new URL(metadata[field] as string).origin }).toEqual({ field, origin: productionEnv.ISSUER });
    }
  });

  test('every endpoint stays https on the issuer when the proxy forwards a forged host and plain http', async () => {
    // TRUST_PROXY_HOPS=1 makes Koa believe X-Forwarded-Host and -Proto; they name where the
    // request came from, never what this server is called.
    const { json } = await rawGet(running, DISCOVERY, {
      host: 'internal:3000',
      'x-forwarded-host': 'evil.example',
      'x-forwarded-proto': 'http',
    });
    const document = json as Metadata;
    expect(document.issuer).toBe(productionEnv.ISSUER);
    for (const field of endpointFields(document)) {
      expect({ field, url: document[field] }).toEqual({ field, url: expect.stringMatching(/^https:\/\/auth\.example\.com\//) });
    }
  });

  test('OIDCCCheckDiscEndpointIdTokenSigningAlgValuesSupported: RS256 with SIGNING_KEY_ALG=RS256 (OpenID Connect Core section 15.1)', () => {
    expect(metadata.id_token_signing_alg_values_supported).toEqual(['RS256']);
  });
});
