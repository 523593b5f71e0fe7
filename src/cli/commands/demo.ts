// `portcullis demo`: a demo user and a public app to log in with, through the same services as
// any other command, and a ready authorization URL with PKCE, so a newcomer sees a login at once.
import crypto from 'node:crypto';
import type { Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import type { ClientCreateInput } from '../../clients/index.ts';
import type { Config } from '../../config/index.ts';
import { randomSecret } from '../../crypto/index.ts';
import type { Services } from '../../services.ts';
import { printing, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';

const DEMO_FLAGS = { redirect_uris: '--redirect-uri' } as const satisfies FlagsOf<ClientCreateInput>;

export function addDemoCommand(program: Command, io: CliIo): void {
  printing(io, DEMO_FLAGS)(
    program
      .command('demo')
      .description('create a demo user and a public app to log in with, and print a ready authorization URL (with PKCE)')
      .option('--redirect-uri <uri>', "the demo app's redirect URI (nothing needs to listen there)", 'http://localhost:8080/callback'),
    {
      run: (options: { redirectUri: string }) => withServices(io, (services, config) => createDemo(services, config, options.redirectUri)),
      human: (demo) =>
        [
          `Demo user:   ${demo.email}  password: ${demo.password}`,
          `Demo app:    ${demo.client_id} (public, PKCE)`,
          '',
          '1. Open this URL in a browser and sign in as the demo user:',
          `   ${demo.authorization_url}`,
          `2. You land on ${demo.redirect_uri}?code=...; copy the code from the address bar.`,
          '3. Exchange it for tokens:',
          `   curl -d grant_type=authorization_code -d client_id=${demo.client_id} -d redirect_uri=${demo.redirect_uri} \\`,
          `        -d code_verifier=${demo.code_verifier} -d code=CODE ${demo.token_endpoint}`,
        ].join('\n'),
    },
  );
}

async function createDemo(services: Services, config: Config, redirectUri: string) {
  const email = `demo-${crypto.randomBytes(3).toString('hex')}@example.com`;
  const password = randomSecret(12);
  await services.users.create({ email, password, name: 'Demo User' }, CLI_ACTOR);
  const app = await services.clients.create(
    { name: 'Demo app', public: true, grant_types: ['authorization_code', 'refresh_token'], redirect_uris: [redirectUri] },
    CLI_ACTOR,
  );
  // RFC 7636: the app keeps the verifier and sends only its SHA-256 in the request.
  const codeVerifier = randomSecret(32);
  const authorization = new URL(`${config.issuer}/auth`);
  authorization.search = new URLSearchParams({
    client_id: app.client_id,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: 'openid profile email offline_access',
    prompt: 'consent',
    state: randomSecret(12),
    code_challenge: crypto.createHash('sha256').update(codeVerifier).digest('base64url'),
    code_challenge_method: 'S256',
  }).toString();
  return {
    client_id: app.client_id,
    redirect_uri: redirectUri,
    email,
    password,
    authorization_url: authorization.toString(),
    code_verifier: codeVerifier,
    token_endpoint: `${config.issuer}/token`,
  };
}
