// Talking to an upstream identity provider, through openid-client (panva's certified relying
// party, on oauth4webapi): discovery, the authorization request (code flow, PKCE S256, state and,
// for OpenID Connect, nonce), the callback's checks (state; `iss` per RFC 9207 when the upstream
// sends it or says it will), the code exchange, the ID token (signature against the upstream's
// JWKS, refetched on an unknown kid; aud, exp, nonce), and userinfo. Every request is bounded by
// FEDERATION_TIMEOUT_SECONDS, and every failure becomes an UpstreamError with one of a few
// problems, which the pages turn into a page and the audit log into an event.
import * as oidc from 'openid-client';
import type { ConnectionType } from './schema.ts';

/** Why a sign-in through an upstream failed, as the error page and the audit event say it. */
export type UpstreamProblem =
  /** The upstream answered nothing within the timeout (504). */
  | 'timeout'
  /** No connection could be made, or the upstream answered 5xx (502). */
  | 'unreachable'
  /** The upstream answered something that fails a check: an ID token, a token response, userinfo (502). */
  | 'bad_response'
  /** The person (or the upstream) declined: the callback carried `error` (403). */
  | 'denied'
  /** The callback does not belong to this sign-in: no flow, another state, another connection (400). */
  | 'bad_state';

export const problemStatus: Record<UpstreamProblem, number> = {
  timeout: 504,
  unreachable: 502,
  bad_response: 502,
  denied: 403,
  bad_state: 400,
};

export class UpstreamError extends Error {
  readonly problem: UpstreamProblem;
  /** The upstream's own error code (access_denied, invalid_grant, …), when it sent one. */
  readonly upstreamError: string | undefined;
  constructor(problem: UpstreamProblem, message: string, upstreamError?: string) {
    super(message);
    this.name = 'UpstreamError';
    this.problem = problem;
    this.upstreamError = upstreamError;
  }
}

/** What a connection is, as far as talking to its upstream goes. */
export interface UpstreamSettings {
  id: string;
  type: ConnectionType;
  issuer: string | null;
  authorizationUrl: string | null;
  tokenUrl: string | null;
  userinfoUrl: string | null;
  clientId: string;
  clientSecret: string;
  tokenEndpointAuthMethod: string;
  /** Changes whenever the connection does: a cached configuration of an older version is not used. */
  version: string;
}

export interface UpstreamOptions {
  timeoutSeconds: number;
  /** http: upstreams (development and tests; refused in production when the connection is saved). */
  allowInsecure: boolean;
}

/** What the flow keeps between sending the person upstream and their coming back. */
export interface UpstreamChecks {
  state: string;
  nonce?: string;
  codeVerifier: string;
}

/** The upstream's answer: who signed in (claims), and its tokens. */
export interface UpstreamResult {
  claims: Record<string, unknown>;
  tokens: { access_token: string; refresh_token?: string; expires_at?: number; scope?: string; id_token?: string };
}

/** How long a discovered configuration is reused before the document is fetched again. */
const CONFIGURATION_TTL_MS = 3600_000;

/** The first cause in an error's chain that says what happened on the wire. */
function classify(error: unknown): UpstreamError {
  if (error instanceof UpstreamError) return error;
  for (let cause = error, depth = 0; cause && depth < 6; cause = (cause as { cause?: unknown }).cause, depth += 1) {
    const { name, code } = cause as { name?: string; code?: string };
    if (name === 'TimeoutError' || name === 'AbortError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT')
      return new UpstreamError('timeout', 'the upstream did not answer in time');
    if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ECONNRESET' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH')
      return new UpstreamError('unreachable', `the upstream could not be reached (${code})`);
    if (cause instanceof oidc.AuthorizationResponseError)
      return new UpstreamError(
        cause.error === 'access_denied' ? 'denied' : 'bad_response',
        `the upstream answered ${cause.error}`,
        cause.error,
      );
    if (cause instanceof oidc.ResponseBodyError) {
      if (cause.status >= 500) return new UpstreamError('unreachable', `the upstream answered ${cause.status}`, cause.error);
      return new UpstreamError('bad_response', `the upstream answered ${cause.error}`, cause.error);
    }
  }
  const { code, message } = error as { code?: string; message?: string };
  if (code === 'OAUTH_RESPONSE_IS_NOT_CONFORM' && /status code/i.test(message ?? '') && /5\d\d/.test(message ?? ''))
    return new UpstreamError('unreachable', message ?? 'the upstream failed');
  return new UpstreamError(
    'bad_response',
    `${code ? `${code}: ` : ''}${message ?? 'the upstream answered something unexpected'}`.slice(0, 300),
  );
}

export function createUpstreams({ timeoutSeconds, allowInsecure }: UpstreamOptions) {
  const configurations = new Map<string, { configuration: Promise<oidc.Configuration>; at: number }>();
  const execute = allowInsecure ? [oidc.allowInsecureRequests] : [];

  /** Bounds one whole step (discovery, or the exchange with its userinfo and JWKS requests). */
  async function within<T>(work: Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new UpstreamError('timeout', 'the upstream did not answer in time')), timeoutSeconds * 1000);
    });
    try {
      return await Promise.race([work, deadline]);
    } catch (error) {
      throw classify(error);
    } finally {
      clearTimeout(timer);
    }
  }

  function clientAuth(settings: UpstreamSettings) {
    return settings.tokenEndpointAuthMethod === 'client_secret_post'
      ? oidc.ClientSecretPost(settings.clientSecret)
      : oidc.ClientSecretBasic(settings.clientSecret);
  }

  async function build(settings: UpstreamSettings): Promise<oidc.Configuration> {
    let configuration: oidc.Configuration;
    if (settings.type === 'oidc') {
      // openid-client refuses a document whose `issuer` is not the one asked for (RFC 8414 section 3.3).
      configuration = await oidc.discovery(new URL(settings.issuer!), settings.clientId, undefined, clientAuth(settings), {
        execute,
        timeout: timeoutSeconds,
      });
      // ID tokens' signatures are checked against the upstream's JWKS, not only taken over TLS.
      oidc.enableNonRepudiationChecks(configuration);
    } else {
      configuration = new oidc.Configuration(
        {
          // Without an issuer, an `iss` in the callback is not checked (OAuth 2.0 providers rarely send one).
          issuer: settings.issuer ?? new URL(settings.authorizationUrl!).origin,
          authorization_endpoint: settings.authorizationUrl!,
          token_endpoint: settings.tokenUrl!,
          userinfo_endpoint: settings.userinfoUrl!,
          // Asked for openid, an OAuth 2.0 provider may answer an ID token too: it is not what
          // this connection reads (userinfo is), but openid-client checks any it gets, and
          // without this it would expect RS256 alone.
          id_token_signing_alg_values_supported: ['RS256', 'PS256', 'ES256', 'EdDSA', 'RS384', 'RS512', 'PS384', 'PS512', 'ES384', 'ES512'],
        },
        settings.clientId,
        undefined,
        clientAuth(settings),
      );
      for (const option of execute) option(configuration);
    }
    configuration.timeout = timeoutSeconds;
    return configuration;
  }

  /** The connection's configuration: discovered once an hour per process, and at once after a change. */
  function configurationOf(settings: UpstreamSettings): Promise<oidc.Configuration> {
    const key = `${settings.id}:${settings.version}`;
    const cached = configurations.get(key);
    if (cached && Date.now() - cached.at < CONFIGURATION_TTL_MS) return cached.configuration;
    for (const other of configurations.keys()) if (other.startsWith(`${settings.id}:`)) configurations.delete(other);
    const configuration = within(build(settings));
    // A failed discovery is not kept: the next sign-in tries again.
    configuration.catch(() => configurations.delete(key));
    configurations.set(key, { configuration, at: Date.now() });
    return configuration;
  }

  return {
    /** Fetches and checks the discovery document (when a connection is saved): a problem is thrown as an UpstreamError. */
    async check(settings: UpstreamSettings): Promise<void> {
      await within(build(settings));
    },

    /** Where to send the person, and what to check when they come back. */
    async authorizationRequest(
      settings: UpstreamSettings,
      { redirectUri, scope, statePrefix, loginHint }: { redirectUri: string; scope: string; statePrefix: string; loginHint?: string },
    ): Promise<{ url: string; checks: UpstreamChecks }> {
      const configuration = await configurationOf(settings);
      const codeVerifier = oidc.randomPKCECodeVerifier();
      const checks: UpstreamChecks = {
        // The prefix says which sign-in the callback belongs to; the random part is the check.
        state: `${statePrefix}.${oidc.randomState()}`,
        codeVerifier,
        ...(settings.type === 'oidc' ? { nonce: oidc.randomNonce() } : {}),
      };
      const url = oidc.buildAuthorizationUrl(configuration, {
        redirect_uri: redirectUri,
        scope,
        state: checks.state,
        ...(checks.nonce ? { nonce: checks.nonce } : {}),
        code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
        code_challenge_method: 'S256',
        ...(loginHint ? { login_hint: loginHint } : {}),
      });
      return { url: url.toString(), checks };
    },

    /**
     * The callback: its parameters checked against `checks`, the code exchanged, the ID token
     * verified (OpenID Connect), and the person's claims (the ID token's, then userinfo's).
     */
    async complete(settings: UpstreamSettings, callbackUrl: URL, checks: UpstreamChecks): Promise<UpstreamResult> {
      const configuration = await configurationOf(settings);
      if (settings.type === 'oauth2' && !settings.issuer) callbackUrl.searchParams.delete('iss');
      return within(
        (async () => {
          const tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
            pkceCodeVerifier: checks.codeVerifier,
            expectedState: checks.state,
            ...(checks.nonce ? { expectedNonce: checks.nonce, idTokenExpected: true } : {}),
          });
          let claims: Record<string, unknown> = {};
          const idClaims = settings.type === 'oidc' ? tokens.claims() : undefined;
          if (idClaims) claims = { ...idClaims };
          const userinfo = configuration.serverMetadata().userinfo_endpoint;
          if (userinfo) {
            if (idClaims) {
              // OpenID Connect Core section 5.3.2: userinfo's sub must be the ID token's.
              const info = await oidc.fetchUserInfo(configuration, tokens.access_token, idClaims.sub);
              claims = { ...info, ...claims };
            } else {
              const response = await oidc.fetchProtectedResource(configuration, tokens.access_token, new URL(userinfo), 'GET');
              if (!response.ok)
                throw new UpstreamError(response.status >= 500 ? 'unreachable' : 'bad_response', `userinfo answered ${response.status}`);
              const body: unknown = await response.json().catch(() => undefined);
              if (!body || typeof body !== 'object' || Array.isArray(body))
                throw new UpstreamError('bad_response', 'userinfo did not answer a JSON object');
              claims = body as Record<string, unknown>;
            }
          }
          const expiresIn = tokens.expiresIn();
          return {
            claims,
            tokens: {
              access_token: tokens.access_token,
              ...(tokens.refresh_token ? { refresh_token: tokens.refresh_token } : {}),
              ...(expiresIn !== undefined ? { expires_at: Math.floor(Date.now() / 1000) + expiresIn } : {}),
              ...(tokens.scope ? { scope: tokens.scope } : {}),
              ...(tokens.id_token ? { id_token: tokens.id_token } : {}),
            },
          };
        })(),
      );
    },
  };
}

export type Upstreams = ReturnType<typeof createUpstreams>;
