// A scripted user agent for the login pages: fetch with a cookie jar (tough-cookie) and manual
// redirects, so a test walks the same HTTP path a browser does and sees every step.
import * as client from 'openid-client';
import { CookieJar } from 'tough-cookie';

export interface Step {
  status: number;
  headers: Headers;
  url: string;
  location?: string;
  body: string;
}

/** The cookie of the pages' post/redirect/get flash (src/pages/flash.ts). */
const FLASH_COOKIE = 'portcullis.flash';

export class UserAgent {
  readonly jar = new CookieJar();

  async request(
    url: string,
    init: { method?: string; form?: Record<string, string>; headers?: Record<string, string>; flash?: string } = {},
  ): Promise<Step> {
    const headers: Record<string, string> = { accept: 'text/html', ...init.headers };
    let cookie = await this.jar.getCookieString(url);
    if (init.flash) {
      // This request's own flash instead of whatever a request in parallel left in the jar.
      cookie = [...cookie.split('; ').filter((pair) => pair && !pair.startsWith(`${FLASH_COOKIE}=`)), init.flash].join('; ');
    }
    if (cookie) headers.cookie = cookie;
    let body: URLSearchParams | undefined;
    if (init.form) body = new URLSearchParams(init.form);
    const response = await fetch(url, { method: init.method ?? (body ? 'POST' : 'GET'), headers, body, redirect: 'manual' });
    for (const header of response.headers.getSetCookie()) await this.jar.setCookie(header, url, { ignoreError: true });
    const location = response.headers.get('location');
    return {
      status: response.status,
      headers: response.headers,
      url,
      ...(location ? { location: new URL(location, url).toString() } : {}),
      body: await response.text(),
    };
  }

  /**
   * Posts a sign-in form and, when the answer is post/redirect/get's 303 back to a sign-in page (a
   * refused login), loads that page with the flash this answer set: the page's status is the
   * refusal's (401, 403, 429). Requests in parallel each see their own answer.
   */
  async postLogin(url: string, init: { form: Record<string, string>; headers?: Record<string, string> }): Promise<Step> {
    const posted = await this.request(url, init);
    if (posted.status !== 303 || !posted.location || !new URL(posted.location).pathname.startsWith('/interaction/')) return posted;
    const flash = posted.headers
      .getSetCookie()
      .map((header) => header.split(';')[0]!)
      .find((pair) => pair.startsWith(`${FLASH_COOKIE}=`));
    return this.request(posted.location, { ...(init.headers ? { headers: init.headers } : {}), ...(flash ? { flash } : {}) });
  }

  /** Follows redirects from `url` until a page (non-redirect) or a URL starting with `stopAt`. Bounded. */
  async follow(url: string, stopAt?: string, init: { form?: Record<string, string> } = {}): Promise<Step> {
    let step = await this.request(url, init);
    for (let hops = 0; step.location && hops < 10; hops += 1) {
      if (stopAt && step.location.startsWith(stopAt)) return step;
      step = await this.request(step.location);
    }
    return step;
  }
}

/** The value of the hidden csrf field in a page. */
export function csrfFrom(html: string): string {
  const match = /name="csrf" value="([^"]+)"/.exec(html);
  if (!match) throw new Error(`no csrf field in page:\n${html.slice(0, 500)}`);
  return match[1]!;
}

/** The action of the form whose action ends with `suffix`. */
export function formAction(html: string, suffix: string, base: string): string {
  const match = new RegExp(`action="([^"]*${suffix})"`).exec(html);
  if (!match) throw new Error(`no form ending in ${suffix}`);
  return new URL(match[1]!.replaceAll('&amp;', '&'), base).toString();
}

export interface LoginOptions {
  email: string;
  password: string;
  redirectUri: string;
  /** Answer a consent page if one comes (default true). */
  consent?: boolean;
}

/**
 * Walks an authorization request through the login and consent pages. Returns the final step:
 * the redirect to the client (its `location` carries the code), or the page where it stopped.
 */
export async function signIn(
  agent: UserAgent,
  authorizationUrl: string,
  { email, password, redirectUri, consent = true }: LoginOptions,
): Promise<Step> {
  let step = await agent.follow(authorizationUrl, redirectUri);
  for (let pages = 0; pages < 4 && !step.location?.startsWith(redirectUri); pages += 1) {
    if (step.status !== 200) return step;
    if (step.body.includes('action="/interaction/') && step.body.includes('name="password"')) {
      step = await agent.follow(formAction(step.body, '/login', step.url), redirectUri, {
        form: { csrf: csrfFrom(step.body), email, password },
      });
    } else if (consent && step.body.includes('/confirm"')) {
      step = await agent.follow(formAction(step.body, '/confirm', step.url), redirectUri, { form: { csrf: csrfFrom(step.body) } });
    } else {
      return step;
    }
  }
  return step;
}

/** The Authorization header of HTTP Basic client authentication (RFC 6749 section 2.3.1). */
export function basicAuth(clientId: string | undefined, secret: string | undefined): { authorization: string } {
  return {
    authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId ?? '')}:${encodeURIComponent(secret ?? '')}`).toString('base64')}`,
  };
}

/**
 * An authorization request with PKCE (RFC 7636, S256), built by openid-client: the URL to send
 * the browser to, and the verifier to present with the code.
 */
export async function pkceAuthorization(
  config: client.Configuration,
  parameters: Record<string, string>,
): Promise<{ url: string; verifier: string }> {
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    ...parameters,
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
  });
  return { url: url.toString(), verifier };
}

/**
 * The whole authorization-code flow as an app and a person go through it: a PKCE request, the
 * login (and consent) pages, and the code exchange by openid-client, which validates the result.
 */
export async function logInWithCode(
  config: client.Configuration,
  parameters: Record<string, string>,
  { email, password, redirectUri, agent = new UserAgent() }: LoginOptions & { agent?: UserAgent },
): Promise<{ tokens: client.TokenEndpointResponse & client.TokenEndpointResponseHelpers; step: Step }> {
  const { url, verifier } = await pkceAuthorization(config, { redirect_uri: redirectUri, ...parameters });
  const step = await signIn(agent, url, { email, password, redirectUri });
  if (!step.location?.startsWith(redirectUri)) throw new Error(`the login stopped at ${step.status} ${step.url}`);
  const tokens = await client.authorizationCodeGrant(config, new URL(step.location), {
    pkceCodeVerifier: verifier,
    ...(parameters.state ? { expectedState: parameters.state } : {}),
  });
  return { tokens, step };
}
