// `portcullis resource …`: register, change and list API resources (the audiences of JWT access
// tokens). The flags map onto the resource service's inputs (src/resources/schema.ts).
import type { Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import { InputError } from '../../errors/index.ts';
import {
  DEFAULT_ACCESS_TOKEN_TTL,
  MAX_ACCESS_TOKEN_TTL,
  MIN_ACCESS_TOKEN_TTL,
  type ResourceCreateInput,
  type ResourceUpdateInput,
} from '../../resources/index.ts';
import { collect } from '../flags.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';

const RESOURCE_FLAGS = {
  audience: '--audience',
  scope: '--scope',
  ttl: '--ttl',
  name: '--name',
  personal_key_scope: '--personal-key-scope',
  exchange_clients: '--exchange-client',
  rbac: '--rbac',
  roles_claim: '--roles-claim',
} as const satisfies FlagsOf<ResourceCreateInput & ResourceUpdateInput>;

type CreateOptions = {
  audience: string;
  scope: string;
  ttl?: string;
  name?: string;
  personalKeyScope?: string;
  exchangeClient?: string[];
  rbac?: boolean;
  rolesClaim?: boolean;
};
type UpdateOptions = { audience: string; personalKeyScope?: string; exchangeClient?: string[]; rbac?: boolean; rolesClaim?: boolean };

const EXCHANGE_CLIENT_HELP = "a client that may exchange a person's access token for a token for this API (RFC 8693; repeat)";

/** --rbac, --roles-claim and their --no- forms: given, each sets its field; absent, the default (create) or no change (update). */
function accessOptions(command: Command): Command {
  return command
    .option('--rbac', 'role-based access: people, clients and keys get only the scopes their roles give (`portcullis role`)')
    .option('--no-rbac', 'every scope a client may ask for, as without roles (the default)')
    .option('--roles-claim', "access tokens carry `roles`: the subject's roles that give a scope of this API")
    .option('--no-roles-claim', 'access tokens carry no `roles` claim (the default)');
}

export function addResourceCommands(program: Command, io: CliIo): void {
  const printed = printing(io, RESOURCE_FLAGS);
  const resource = program.command('resource').description('manage API resources (audiences of JWT access tokens)');

  printed(
    accessOptions(
      resource
        .command('create')
        .description('register an API that accepts Portcullis access tokens')
        .requiredOption('--audience <uri>', 'the audience identifier (an absolute URI), the `resource` clients ask for')
        .requiredOption('--scope <scopes>', 'space-separated scopes the API accepts')
        .option(
          '--ttl <seconds>',
          `access token lifetime in seconds (${MIN_ACCESS_TOKEN_TTL} to ${MAX_ACCESS_TOKEN_TTL}; default ${DEFAULT_ACCESS_TOKEN_TTL})`,
        )
        .option('--name <name>', 'display name')
        .option('--personal-key-scope <scopes>', 'scopes people may put on API keys of their own for this API (default none)')
        .option('--exchange-client <client_id>', `${EXCHANGE_CLIENT_HELP} (default none)`, collect),
    ),
    {
      run: (options: CreateOptions) => withServices(io, (services) => services.resources.create(createInput(options), CLI_ACTOR)),
      human: (created) =>
        [
          `audience: ${created.audience}`,
          `scope:    ${created.scope}`,
          `ttl:      ${created.access_token_ttl}s`,
          ...(created.rbac ? ['rbac:     on (scopes only through roles)'] : []),
          ...(created.roles_claim ? ['roles:    claimed in its access tokens'] : []),
        ].join('\n'),
    },
  );

  printed(
    accessOptions(
      resource
        .command('update')
        .description(
          "change which scopes people may put on API keys of their own for an API, which clients may exchange a person's token for it, or its role-based access",
        )
        .requiredOption('--audience <uri>', 'the API to change')
        .option('--personal-key-scope <scopes>', 'the scopes people may put on keys of their own ("" for none)')
        .option('--exchange-client <client_id>', `${EXCHANGE_CLIENT_HELP}; replaces the list ("" alone for none)`, collect),
    ),
    {
      run: (options: UpdateOptions) =>
        withServices(io, (services) => services.resources.update({ audience: options.audience }, updateInput(options), CLI_ACTOR)),
      human: (updated) =>
        [
          `audience:           ${updated.audience}`,
          `personal key scope: ${updated.personal_key_scope || '(none)'}`,
          `exchange clients:   ${updated.exchange_clients.join(' ') || '(none)'}`,
          `rbac:               ${updated.rbac ? 'on' : 'off'}`,
          `roles claim:        ${updated.roles_claim ? 'on' : 'off'}`,
        ].join('\n'),
    },
  );

  printed(resource.command('list').description('list API resources'), {
    run: () => withServices(io, (services) => services.resources.list()),
    human: (resources) =>
      table(resources, ['audience', 'scope', 'personal_key_scope', 'exchange_clients', 'rbac', 'roles_claim', 'access_token_ttl', 'name']),
  });
}

function createInput(options: CreateOptions): ResourceCreateInput {
  return {
    audience: options.audience,
    scope: options.scope,
    ttl: options.ttl === undefined ? undefined : wholeSeconds(options.ttl),
    // An empty --name is no name, as it always was on the command line.
    name: options.name || undefined,
    personal_key_scope: options.personalKeyScope,
    exchange_clients: exchangeClients(options.exchangeClient),
    rbac: options.rbac,
    roles_claim: options.rolesClaim,
  };
}

function updateInput(options: UpdateOptions): ResourceUpdateInput {
  return {
    ...(options.personalKeyScope === undefined ? {} : { personal_key_scope: options.personalKeyScope }),
    ...(options.exchangeClient === undefined ? {} : { exchange_clients: exchangeClients(options.exchangeClient) }),
    ...(options.rbac === undefined ? {} : { rbac: options.rbac }),
    ...(options.rolesClaim === undefined ? {} : { roles_claim: options.rolesClaim }),
  };
}

/** The repeated --exchange-client values; an empty one (`--exchange-client ""`) names no client, so given alone it clears the list. */
function exchangeClients(values: string[] | undefined): string[] | undefined {
  return values?.filter((value) => value !== '');
}

/** --ttl as the number the schema checks; text that is no whole number never reaches it as NaN. */
function wholeSeconds(text: string): number {
  const seconds = Number(text);
  if (!Number.isInteger(seconds)) throw new InputError('ttl', 'must be a whole number of seconds');
  return seconds;
}
