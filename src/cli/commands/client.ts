// `portcullis client …`: register, list, show and change OAuth clients, rotate a client's secret.
// The flags map onto the client service's inputs (src/clients/schema.ts) in their wire names.
import fs from 'node:fs';
import { Option, type Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import {
  authMethods,
  clientCreateSchema,
  clientProfiles,
  supportedGrantTypes,
  type ClientCreateInput,
  type ClientSecretRotateInput,
  type ClientSummary,
  type ClientUpdateInput,
} from '../../clients/index.ts';
import { InputError } from '../../errors/index.ts';
import { parseInput } from '../../oauth/index.ts';
import { collect, graceInput, graceOption } from '../flags.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';
import { addRegistrationTokenCommands } from './registration.ts';

const CLIENT_FLAGS = {
  name: '--name',
  grant_types: '--grant',
  redirect_uris: '--redirect-uri',
  post_logout_redirect_uris: '--post-logout-redirect-uri',
  scope: '--scope',
  public: '--public',
  token_endpoint_auth_method: '--auth-method',
  jwks: '--jwks',
  default_resource: '--default-resource',
  always_issue_refresh_token: '--always-issue-refresh-token',
  require_pushed_authorization_requests: '--require-par',
  dpop_bound_access_tokens: '--require-dpop',
  profile: '--profile',
  require_mfa: '--require-mfa',
  login_connection: '--login-connection',
  organization_id: '--organization',
  grace_seconds: '--grace',
} as const satisfies FlagsOf<ClientCreateInput & ClientSecretRotateInput>;

type UpdateOptions = {
  name?: string;
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  scope?: string;
  requireMfa?: boolean;
  /** false: --no-login-connection. */
  loginConnection?: string | false;
  /** false: --no-organization. */
  organization?: string | false;
};

type CreateOptions = {
  name: string;
  grant?: string[];
  redirectUri?: string[];
  scope?: string;
  public?: boolean;
  authMethod?: string;
  jwks?: string;
  defaultResource?: string;
  postLogoutRedirectUri?: string[];
  alwaysIssueRefreshToken?: boolean;
  requirePar?: boolean;
  requireDpop?: boolean;
  profile?: string;
  requireMfa?: boolean;
  loginConnection?: string;
  organization?: string;
};

export function addClientCommands(program: Command, io: CliIo): void {
  const printed = printing(io, CLIENT_FLAGS);
  const client = program.command('client').description('manage OAuth clients');

  printed(
    client
      .command('create')
      .description('register a client; prints its id and (once, never again) its secret')
      .requiredOption('--name <name>', 'display name')
      .option('--grant <type>', `allowed grant type (repeat): ${supportedGrantTypes.join(', ')}`, collect)
      .option('--redirect-uri <uri>', 'allowed redirect URI (repeat)', collect)
      .option('--scope <scopes>', 'space-separated scopes the client may ask for')
      .option('--public', 'a public client (single-page or native app): no secret, PKCE only')
      .addOption(new Option('--auth-method <method>', 'token endpoint authentication').choices(authMethods))
      .option('--jwks <json|@file>', 'the public JWK Set of a private_key_jwt client')
      .option('--default-resource <audience>', 'the API tokens are for when a request names none')
      .option('--post-logout-redirect-uri <uri>', 'where logout may return the user (repeat)', collect)
      .option('--always-issue-refresh-token', 'issue refresh tokens even without the offline_access scope')
      .option('--require-par', 'authorization requests only through pushed authorization requests (RFC 9126)')
      .option('--require-dpop', 'every token request needs a DPoP proof; tokens are bound to its key (RFC 9449)')
      .addOption(
        new Option('--profile <profile>', 'a security profile: fapi2 (private_key_jwt, PAR, DPoP, PKCE S256)').choices(clientProfiles),
      )
      .option('--require-mfa', 'every sign-in to this client needs a second factor (an authenticator app or a passkey)')
      .option('--login-connection <name>', 'the one connection people sign in to this client through (no password or passkey form)')
      .option('--organization <id>', 'the organization the client belongs to: its client-credentials tokens carry organization_id'),
    {
      run: (options: CreateOptions) => withServices(io, (services) => services.clients.create(createInput(options), CLI_ACTOR)),
      human: (created) =>
        [
          `client_id:     ${created.client_id}`,
          ...(created.client_secret ? [`client_secret: ${created.client_secret}`, 'The secret is shown only now: store it safely.'] : []),
        ].join('\n'),
    },
  );

  addRegistrationTokenCommands(client, io);

  printed(client.command('list').description('list clients (never their secrets)'), {
    run: () => withServices(io, (services) => services.clients.list()),
    human: (clients) => table(clients, ['client_id', 'name', 'grant_types', 'scope', 'public', 'require_mfa']),
  });

  printed(client.command('show <client_id>').description('one client, every setting (never its secret)'), {
    run: (_options: object, clientId: string) => withServices(io, (services) => services.clients.get(clientId)),
    human: describeClient,
  });

  printed(
    client
      .command('update <client_id>')
      .description(
        "change a client's name, redirect URIs, scope, whether sign-ins need a second factor, its one connection or its organization",
      )
      .option('--name <name>', 'display name')
      .option('--redirect-uri <uri>', 'the redirect URIs, replacing the current ones (repeat)', collect)
      .option('--post-logout-redirect-uri <uri>', 'where logout may return the user, replacing the current ones (repeat)', collect)
      .option('--scope <scopes>', 'space-separated scopes the client may ask for (replaces the current scope)')
      .option('--require-mfa', 'every sign-in to this client needs a second factor')
      .option('--no-require-mfa', 'sign-ins need a second factor only when the person or MFA=required says so')
      .option('--login-connection <name>', 'the one connection people sign in to this client through')
      .option('--no-login-connection', 'people sign in to this client on the login page as usual')
      .option('--organization <id>', 'the organization the client belongs to')
      .option('--no-organization', 'the client belongs to no organization'),
    {
      run: (options: UpdateOptions, clientId: string) =>
        withServices(io, (services) => services.clients.update(clientId, updateInput(options), CLI_ACTOR)),
      human: describeClient,
    },
  );

  printed(
    client
      .command('secret')
      .description("manage a client's secret")
      .command('rotate <client_id>')
      .description('give the client a new secret (printed once); the old one works until the grace period ends')
      .addOption(graceOption('secret', '0, 15m, 24h, 7d')),
    {
      run: (options: { grace?: string }, clientId: string) =>
        withServices(io, (services) => services.clients.rotateSecret(clientId, graceInput(options.grace), CLI_ACTOR)),
      human: (rotated) =>
        [`client_secret: ${rotated.client_secret}`, `The previous secret works until ${rotated.previous_secret_expires_at}.`].join('\n'),
    },
  );
}

/**
 * The flags of `client create` as the client service's input. Flags are text and the schema's
 * types are narrower (grant types, auth methods, a JWK Set), so the input is parsed with the
 * service's own schema, as the admin API parses a request body: a bad value is refused with the
 * field and words the admin API would report. Omitted flags take the schema's defaults.
 */
function createInput(options: CreateOptions): ClientCreateInput {
  return parseInput(clientCreateSchema, {
    name: options.name,
    // An absent --grant is "no grant types", which the schema refuses in those words.
    grant_types: options.grant ?? [],
    redirect_uris: options.redirectUri,
    post_logout_redirect_uris: options.postLogoutRedirectUri,
    scope: options.scope,
    public: options.public,
    token_endpoint_auth_method: options.authMethod,
    jwks: options.jwks === undefined ? undefined : readJwks(options.jwks),
    default_resource: options.defaultResource,
    always_issue_refresh_token: options.alwaysIssueRefreshToken,
    require_pushed_authorization_requests: options.requirePar,
    dpop_bound_access_tokens: options.requireDpop,
    profile: options.profile,
    require_mfa: options.requireMfa,
    login_connection: options.loginConnection,
    organization_id: options.organization,
  });
}

/** The flags of `client update`: what is not given stays as it is. */
function updateInput(options: UpdateOptions): ClientUpdateInput {
  return {
    name: options.name,
    redirect_uris: options.redirectUri,
    post_logout_redirect_uris: options.postLogoutRedirectUri,
    scope: options.scope,
    require_mfa: options.requireMfa,
    // --no-login-connection is commander's false: the service's null, which clears it.
    login_connection: options.loginConnection === false ? null : options.loginConnection,
    organization_id: options.organization === false ? null : options.organization,
  };
}

/** A client's settings, one a line, in the wire's names. */
function describeClient(summary: ClientSummary): string {
  const width = Math.max(...Object.keys(summary).map((field) => field.length)) + 2;
  return Object.entries(summary)
    .map(([field, value]) => `${`${field}:`.padEnd(width)}${Array.isArray(value) ? value.join(' ') : String(value ?? '')}`.trimEnd())
    .join('\n');
}

/** A JWK Set given inline as JSON, or as @FILE. */
function readJwks(text: string): unknown {
  const json = text.startsWith('@') ? fs.readFileSync(text.slice(1), 'utf8') : text;
  try {
    return JSON.parse(json);
  } catch {
    throw new InputError('jwks', 'is not valid JSON (give the JWK Set inline or as @FILE)');
  }
}
