// `portcullis connection …`: create, list, show, change and delete the upstream identity
// providers people may sign in through (src/federation). The flags map onto the connection
// service's inputs in their wire names. The upstream's client secret is read from standard input
// only: on the command line it would sit in shell history and in every process listing.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import { InputError } from '../../errors/index.ts';
import {
  connectionTypes,
  mappedFields,
  presetNames,
  upstreamAuthMethods,
  type ConnectionCreateInput,
  type ConnectionUpdateInput,
  type ConnectionView,
} from '../../federation/index.ts';
import { collect } from '../flags.ts';
import type { CliIo } from '../io.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import { withServices } from '../services.ts';

/** The flags both create and update take, by the wire field they give. */
const SHARED_FLAGS = {
  display_name: '--display-name',
  issuer: '--issuer',
  authorization_url: '--authorization-url',
  token_url: '--token-url',
  userinfo_url: '--userinfo-url',
  client_id: '--client-id',
  client_secret: '--client-secret-stdin',
  token_endpoint_auth_method: '--token-auth',
  scope: '--scope',
  claim_mapping: '--claim',
  trust_email_verified: '--trust-email-verified',
  store_tokens: '--store-tokens',
  position: '--position',
} as const satisfies FlagsOf<ConnectionCreateInput & ConnectionUpdateInput>;

const CREATE_FLAGS = {
  ...SHARED_FLAGS,
  name: '--name',
  type: '--type',
  preset: '--preset',
  create_accounts: '--no-create-accounts',
  enabled: '--disabled',
} as const satisfies FlagsOf<ConnectionCreateInput>;

const UPDATE_FLAGS = {
  ...SHARED_FLAGS,
  create_accounts: '--create-accounts',
  enabled: '--enable',
} as const satisfies FlagsOf<ConnectionUpdateInput>;

/** What create and update share, as commander hands the flags over. */
interface SharedOptions {
  displayName?: string;
  issuer?: string;
  authorizationUrl?: string;
  tokenUrl?: string;
  userinfoUrl?: string;
  clientId?: string;
  clientSecretStdin?: boolean;
  tokenAuth?: string;
  scope?: string;
  claim?: string[];
  trustEmailVerified?: boolean;
  storeTokens?: boolean;
  position?: string;
}

interface CreateOptions extends SharedOptions {
  name: string;
  type?: string;
  preset?: string;
  /** false with --no-create-accounts. */
  createAccounts: boolean;
  disabled?: boolean;
}

interface UpdateOptions extends SharedOptions {
  createAccounts?: boolean;
  enable?: boolean;
  disable?: boolean;
}

/** The options create and update both offer (update adds the --no- forms of the booleans). */
function sharedOptions(command: Command, { update }: { update: boolean }): Command {
  command
    .option('--display-name <text>', 'the words on the login page button')
    .option('--issuer <url>', 'OpenID Connect: the issuer (its discovery document is fetched and checked)')
    .option('--authorization-url <url>', 'OAuth 2.0: the authorization endpoint')
    .option('--token-url <url>', 'OAuth 2.0: the token endpoint')
    .option('--userinfo-url <url>', 'OAuth 2.0: the endpoint that answers who signed in')
    .option('--client-id <id>', 'the client id registered upstream')
    .option(
      '--client-secret-stdin',
      update
        ? 'replace the client secret with the one read from standard input'
        : 'read the client secret registered upstream from standard input (required: secrets never go on the command line)',
    )
    .option('--scope <scopes>', 'space-separated scopes asked of the upstream')
    .option(
      '--claim <field=claim>',
      `which upstream claim becomes a local field (repeat): ${mappedFields.join(', ')}, e.g. --claim email=mail`,
      collect,
    )
    .option('--trust-email-verified', "believe the upstream's email_verified (a new account's address counts as verified)");
  if (update) command.option('--no-trust-email-verified', "do not believe the upstream's email_verified");
  command.option('--store-tokens', "keep the upstream's tokens (sealed) after a sign-in, to call its APIs later");
  if (update) command.option('--no-store-tokens', "keep none of the upstream's tokens");
  return command
    .option('--position <n>', 'order on the login page, lowest first (0 to 1000)')
    .option('--token-auth <method>', `how Portcullis authenticates at the upstream token endpoint: ${upstreamAuthMethods.join(', ')}`);
}

export function addConnectionCommands(program: Command, io: CliIo): void {
  const printedCreate = printing(io, CREATE_FLAGS);
  const printed = printing(io, UPDATE_FLAGS);
  const connection = program.command('connection').description('manage the identity providers people may sign in through');

  printedCreate(
    sharedOptions(
      connection
        .command('create')
        .description('add a connection; prints the callback URL to register upstream')
        .requiredOption('--name <name>', 'lowercase letters, digits and hyphens: in the callback URL and the connection parameter')
        .option('--type <type>', `${connectionTypes.join(' or ')} (a preset gives it)`)
        .option('--preset <preset>', `a ready-made connection: ${presetNames.join(', ')}`),
      { update: false },
    )
      .option('--no-create-accounts', 'a first sign-in does not make an account: only people already linked get in')
      .option('--disabled', 'not offered on the login page until enabled'),
    {
      run: async (options: CreateOptions) => {
        const input = await createInput(io, options);
        return withServices(io, (services) => services.federation.connections.create(input, CLI_ACTOR));
      },
      human: describeCreated,
    },
  );

  printed(connection.command('list').description('list connections (never their secrets)'), {
    run: () => withServices(io, (services) => services.federation.connections.list()),
    human: (connections) => table(connections, ['name', 'type', 'preset', 'display_name', 'enabled', 'position', 'callback_url']),
  });

  printed(connection.command('show <name>').description('one connection, every setting (never its secret)'), {
    run: (_options: object, name: string) => withServices(io, (services) => services.federation.connections.get(name)),
    human: describeConnection,
  });

  printed(
    sharedOptions(connection.command('update <name>').description("change a connection's settings; what is not given stays"), {
      update: true,
    })
      .option('--create-accounts', 'a first sign-in makes an account')
      .option('--no-create-accounts', 'a first sign-in does not make an account')
      .option('--enable', 'offer it on the login page and accept it')
      .option('--disable', 'take it off the login page and refuse sign-ins through it'),
    {
      run: async (options: UpdateOptions, name: string) => {
        const input = await updateInput(io, options);
        return withServices(io, (services) => services.federation.connections.update(name, input, CLI_ACTOR));
      },
      human: describeConnection,
    },
  );

  printed(connection.command('delete <name>').description('delete a connection and every link to it (the local accounts stay)'), {
    run: (_options: object, name: string) =>
      withServices(io, async (services) => ({ name, ...(await services.federation.connections.delete(name, CLI_ACTOR)) })),
    human: ({ name, identities }) =>
      `Deleted connection ${name}; ${identities} linked ${identities === 1 ? 'identity' : 'identities'} removed.`,
  });
}

/** The flags of `connection create` as the connection service's input; it parses and checks them. */
async function createInput(io: CliIo, options: CreateOptions): Promise<ConnectionCreateInput> {
  if (!options.clientSecretStdin)
    throw new InputError('client_secret', 'is read from standard input: give --client-secret-stdin and pipe the secret in');
  return {
    name: options.name,
    ...(options.type !== undefined ? { type: options.type as ConnectionCreateInput['type'] } : {}),
    ...(options.preset !== undefined ? { preset: options.preset } : {}),
    ...sharedInput(options),
    client_id: options.clientId ?? '',
    client_secret: await readSecret(io),
    create_accounts: options.createAccounts,
    enabled: !options.disabled,
  };
}

/** The flags of `connection update`: what is not given stays as it is. */
async function updateInput(io: CliIo, options: UpdateOptions): Promise<ConnectionUpdateInput> {
  if (options.enable && options.disable) throw new InputError('enabled', 'give --enable or --disable, not both');
  return {
    ...sharedInput(options),
    ...(options.clientId !== undefined ? { client_id: options.clientId } : {}),
    ...(options.clientSecretStdin ? { client_secret: await readSecret(io) } : {}),
    ...(options.createAccounts !== undefined ? { create_accounts: options.createAccounts } : {}),
    ...(options.enable ? { enabled: true } : options.disable ? { enabled: false } : {}),
  };
}

/** The fields both commands give the same way; an absent flag is left out (the service's default, or no change). */
function sharedInput(options: SharedOptions) {
  const given = <Key extends string, Value>(key: Key, value: Value | undefined) =>
    (value === undefined ? {} : { [key]: value }) as Partial<Record<Key, Value>>;
  return {
    ...given('display_name', options.displayName),
    ...given('issuer', options.issuer),
    ...given('authorization_url', options.authorizationUrl),
    ...given('token_url', options.tokenUrl),
    ...given('userinfo_url', options.userinfoUrl),
    ...given('scope', options.scope),
    ...given('token_endpoint_auth_method', options.tokenAuth as ConnectionCreateInput['token_endpoint_auth_method']),
    ...given('claim_mapping', options.claim && claimMapping(options.claim)),
    ...given('trust_email_verified', options.trustEmailVerified),
    ...given('store_tokens', options.storeTokens),
    ...given('position', options.position === undefined ? undefined : position(options.position)),
  };
}

/** --claim FIELD=CLAIM, repeated, as claim_mapping; which fields exist is the service's rule. */
function claimMapping(pairs: string[]): Record<string, string> {
  const mapping: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0 || at === pair.length - 1) throw new InputError('claim_mapping', `${pair} is not FIELD=CLAIM (e.g. email=mail)`);
    mapping[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return mapping;
}

function position(value: string): number {
  if (!/^\d+$/.test(value)) throw new InputError('position', 'must be a whole number');
  return Number(value);
}

async function readSecret(io: CliIo): Promise<string> {
  // One trailing newline is what `echo` and a terminal add; it is not part of the secret.
  return (await io.readStdin()).replace(/\r?\n$/, '');
}

/** A connection for people: its settings one a line, in the wire's names, and the callback URL to register. */
function describeConnection(view: ConnectionView): string {
  const { callback_url: callbackUrl, ...settings } = view;
  const fields = Object.entries(settings)
    .filter(([, value]) => value !== null)
    .map(([field, value]) => [field, field === 'claim_mapping' ? mappingText(view.claim_mapping) : String(value)] as const);
  const width = Math.max(...fields.map(([field]) => field.length)) + 2;
  return [...fields.map(([field, value]) => `${`${field}:`.padEnd(width)}${value}`.trimEnd()), callbackLine(callbackUrl)].join('\n');
}

/** What create prints: what was made, and what the operator must do next. */
function describeCreated(view: ConnectionView): string {
  return [
    `Created connection ${view.name} (${view.type}${view.preset ? `, preset ${view.preset}` : ''}): "${view.display_name}"${view.enabled ? ' on the login page' : ', disabled'}.`,
    `Claim mapping: ${mappingText(view.claim_mapping)}`,
    callbackLine(view.callback_url),
    'The client secret is stored sealed and never shown again.',
  ].join('\n');
}

const callbackLine = (url: string) => `Callback URL: ${url} (register it upstream as the redirect URI)`;

/** FIELD=CLAIM in the order of the fields (PostgreSQL's jsonb keeps no order of its own). */
const mappingText = (mapping: ConnectionView['claim_mapping']) =>
  mappedFields
    .filter((field) => mapping[field] !== undefined)
    .map((field) => `${field}=${mapping[field]}`)
    .join(' ');
