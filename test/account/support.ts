// Signing in to the account page as a person does: /account, signed out, starts the account
// page's own sign-in (its internal client, PKCE), through the login page and back.
import { signIn, UserAgent, type Step } from '../support/browser.ts';
import { cli } from '../support/cli.ts';

/** Signs `agent` in through /account (or `path`); returns the step the callback answered with. */
export async function signInToAccount(
  url: string,
  email: string,
  password: string,
  agent = new UserAgent(),
  path = '/account',
): Promise<Step> {
  const start = await agent.request(`${url}${path}`);
  if (start.status !== 303 || !start.location) throw new Error(`${path} signed out answered ${start.status}`);
  const callback = `${url}/account/callback`;
  // No consent: signing in to one's own account asks for none.
  const step = await signIn(agent, start.location, { email, password, redirectUri: callback, consent: false });
  if (!step.location?.startsWith(callback))
    throw new Error(`the sign-in stopped at ${step.status} ${step.url}:\n${step.body.slice(0, 400)}`);
  return agent.request(step.location);
}

/** A person made by an administrator (counted as verified). */
export async function createUser(env: Record<string, string>, email: string, password: string, name?: string): Promise<string> {
  const made = await cli(
    ['user', 'create', '--email', email, ...(name ? ['--name', name] : []), '--password-stdin', '--json'],
    env,
    password,
  );
  if (made.code !== 0) throw new Error(made.stderr);
  return made.json<{ id: string }>().id;
}

/** The value of a form field of a page. */
export function fieldValue(html: string, id: string): string | undefined {
  return new RegExp(`id="${id}"[^>]*value="([^"]*)"`).exec(html)?.[1];
}

export { UserAgent };
