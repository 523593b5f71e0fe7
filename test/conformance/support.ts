// Shared steps of the conformance modules (test/conformance/*-op.test.ts): the OpenID
// Foundation's conformance suite drives an OP as a relying party and a person at a browser; here
// openid-client is the relying party and the scripted user agent (test/support/browser.ts) the
// person, on a real server over real HTTP.
import http from 'node:http';
import * as client from 'openid-client';
import { csrfFrom, formAction, pkceAuthorization, UserAgent, type Step } from '../support/browser.ts';
import type { RunningServer } from '../support/server.ts';

export const REDIRECT = 'http://127.0.0.1:8123/callback';
export const PASSWORD = 'correct horse battery staple';

/** A production configuration with its own secrets (what `loadConfig` accepts for NODE_ENV=production). */
export const productionEnv = {
  NODE_ENV: 'production',
  ISSUER: 'https://auth.example.com',
  COOKIE_KEYS: 'a-production-cookie-key-that-is-long-enough-1',
  KEY_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64url'),
  HASH_PEPPER: 'a-production-pepper-that-is-long-enough-1234',
};

/**
 * A GET with headers fetch() will not send as given (Host): node:http, to a server's own port.
 * Resolves with the status and the parsed JSON body.
 */
export function rawGet(server: RunningServer, path: string, headers: Record<string, string>): Promise<{ status: number; json: unknown }> {
  const { hostname, port } = new URL(server.url);
  return new Promise((resolve, reject) => {
    http
      .get({ host: hostname, port, path, headers }, (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (body += chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, json: JSON.parse(body) as unknown }));
      })
      .on('error', reject);
  });
}

export interface Person {
  id: string;
  email: string;
  name: string;
}

/** A person who can sign in, made through the user service as the CLI would. */
export async function createPerson(running: RunningServer, email: string, name: string): Promise<Person> {
  const { id } = await running.server.services.users.create({ email, name, password: PASSWORD }, { type: 'system' });
  return { id, email, name };
}

/** A confidential client for the code flow (and refresh), and openid-client configured from discovery. */
export async function createRelyingParty(
  running: RunningServer,
  { authMethod = 'client_secret_basic' }: { authMethod?: 'client_secret_basic' | 'client_secret_post' } = {},
): Promise<{ clientId: string; clientSecret: string; config: client.Configuration }> {
  const created = await running.server.services.clients.create(
    {
      name: `Conformance RP (${authMethod})`,
      grant_types: ['authorization_code', 'refresh_token'],
      redirect_uris: [REDIRECT],
      token_endpoint_auth_method: authMethod,
    },
    { type: 'system' },
  );
  const clientAuth =
    authMethod === 'client_secret_post'
      ? client.ClientSecretPost(created.client_secret!)
      : client.ClientSecretBasic(created.client_secret!);
  const config = await client.discovery(new URL(running.url), created.client_id, { token_endpoint_auth_method: authMethod }, clientAuth, {
    execute: [client.allowInsecureRequests],
  });
  return { clientId: created.client_id, clientSecret: created.client_secret!, config };
}

/** An authorization request as the suite sends it: PKCE S256, state and nonce (unless told `nonce: ''`). */
export interface Started {
  url: string;
  verifier: string;
  state: string;
  nonce?: string;
}

export async function authorizationRequest(config: client.Configuration, parameters: Record<string, string> = {}): Promise<Started> {
  const state = client.randomState();
  const nonce = 'nonce' in parameters ? parameters.nonce : client.randomNonce();
  const { nonce: _ignored, ...rest } = parameters;
  const { url, verifier } = await pkceAuthorization(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    state,
    ...(nonce ? { nonce } : {}),
    ...rest,
  });
  return { url, verifier, state, ...(nonce ? { nonce } : {}) };
}

export const isLoginPage = (step: Step) => step.status === 200 && step.body.includes('name="password"') && step.body.includes('/login"');
export const isConsentPage = (step: Step) => step.status === 200 && step.body.includes('/confirm"');

/** Signs in on the login page `step` shows; returns the next step (consent, or the redirect to the client). */
export function submitLogin(agent: UserAgent, step: Step, email: string): Promise<Step> {
  return agent.follow(formAction(step.body, '/login', step.url), REDIRECT, {
    form: { csrf: csrfFrom(step.body), email, password: PASSWORD },
  });
}

/** Allows on the consent page `step` shows; returns the redirect to the client. */
export function submitConsent(agent: UserAgent, step: Step): Promise<Step> {
  return agent.follow(formAction(step.body, '/confirm', step.url), REDIRECT, { form: { csrf: csrfFrom(step.body) } });
}

/**
 * Walks `started` through whatever pages come (login, consent) to the redirect back to the client,
 * and records which pages were shown.
 */
export async function completeAuthorization(
  agent: UserAgent,
  started: Started,
  email: string,
): Promise<{ callback: URL; pages: ('login' | 'consent')[]; loginPage?: Step }> {
  let step = await agent.follow(started.url, REDIRECT);
  const pages: ('login' | 'consent')[] = [];
  let loginPage: Step | undefined;
  for (let hops = 0; hops < 4 && !step.location?.startsWith(REDIRECT); hops += 1) {
    if (isLoginPage(step)) {
      pages.push('login');
      loginPage = step;
      step = await submitLogin(agent, step, email);
    } else if (isConsentPage(step)) {
      pages.push('consent');
      step = await submitConsent(agent, step);
    } else {
      throw new Error(`the authorization stopped at ${step.status} ${step.url}:\n${step.body.slice(0, 400)}`);
    }
  }
  if (!step.location?.startsWith(REDIRECT)) throw new Error(`no redirect to the client after ${pages.join(', ')}`);
  return { callback: new URL(step.location), pages, ...(loginPage ? { loginPage } : {}) };
}

/** The code exchange by openid-client, which checks state, nonce, iss (RFC 9207), the ID token and its signature. */
export function exchange(
  config: client.Configuration,
  callback: URL,
  started: Started,
  checks: { maxAge?: number } = {},
): Promise<client.TokenEndpointResponse & client.TokenEndpointResponseHelpers> {
  return client.authorizationCodeGrant(config, callback, {
    pkceCodeVerifier: started.verifier,
    expectedState: started.state,
    // Without a nonce in the request, openid-client requires that the ID token carries none.
    ...(started.nonce ? { expectedNonce: started.nonce } : {}),
    ...(checks.maxAge !== undefined ? { maxAge: checks.maxAge } : {}),
    idTokenExpected: true,
  });
}

/** The query of a redirect to the client, as a plain object. */
export const callbackParameters = (location: string | URL) => Object.fromEntries(new URL(location).searchParams);
