// `portcullis client registration-token …`: the initial access tokens with which developers
// register clients themselves (RFC 7591; CLIENT_REGISTRATION=on). The flags map onto the
// client service's inputs (src/clients/initialAccessTokens.ts) in their wire names.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import {
  DEFAULT_REGISTRATION_GRANTS,
  registrationTokenCreateSchema,
  supportedGrantTypes,
  type RegistrationTokenCreateInput,
} from '../../clients/index.ts';
import { InputError } from '../../errors/index.ts';
import { parseDuration } from '../../limits/index.ts';
import { parseInput } from '../../oauth/index.ts';
import { collect } from '../flags.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';

const REGISTRATION_TOKEN_FLAGS = {
  expires_in_seconds: '--expires-in',
  uses: '--uses',
  grant_types: '--grant',
  scope: '--scope',
} as const satisfies FlagsOf<RegistrationTokenCreateInput>;

type CreateOptions = { expiresIn?: string; uses?: string; grant?: string[]; scope?: string };

/** Adds `registration-token` under `client`. */
export function addRegistrationTokenCommands(client: Command, io: CliIo): void {
  const printed = printing(io, REGISTRATION_TOKEN_FLAGS);
  const tokens = client
    .command('registration-token')
    .description('manage initial access tokens: what a developer registers a client with (RFC 7591; CLIENT_REGISTRATION=on)');

  printed(
    tokens
      .command('create')
      .description('make an initial access token; prints it once (only a keyed hash is stored)')
      .option('--expires-in <duration>', 'lifetime, e.g. 1h, 7d (default: no expiry)')
      .option('--uses <n>', 'how many clients it may register (default: no limit)')
      .option(
        '--grant <type>',
        `a grant type a registered client may have (repeat; default: ${DEFAULT_REGISTRATION_GRANTS.join(', ')}): ${supportedGrantTypes.join(', ')}`,
        collect,
      )
      .option('--scope <scopes>', 'space-separated API scopes a registered client may ask for (default: none)'),
    {
      run: (options: CreateOptions) =>
        withServices(io, (services) => services.clients.registrationTokens.create(createInput(options), CLI_ACTOR)),
      human: (created) =>
        [
          `id:    ${created.id}`,
          `token: ${created.token}`,
          `grants: ${created.grant_types.join(' ')}; scope: ${created.scope || '(none)'}; uses: ${created.uses_left ?? 'no limit'}; expires: ${created.expires_at ?? 'never'}`,
          'The token is shown only now: give it to the developer, who sends it as a Bearer token to /reg.',
        ].join('\n'),
    },
  );

  printed(tokens.command('list').description('list initial access tokens (never the tokens themselves)'), {
    run: () => withServices(io, (services) => services.clients.registrationTokens.list()),
    human: (list) => table(list, ['id', 'grant_types', 'scope', 'uses', 'uses_left', 'expires_at', 'created_at']),
  });

  printed(tokens.command('delete <id>').description('delete an initial access token: no more clients can register with it'), {
    run: async (_options: object, id: string) => {
      await withServices(io, (services) => services.clients.registrationTokens.delete(id, CLI_ACTOR));
      return { id, deleted: true };
    },
    human: ({ id }) => `deleted ${id}`,
  });
}

/** The flags as the service's input, parsed with its own schema (as `client create` does). */
function createInput(options: CreateOptions): RegistrationTokenCreateInput {
  if (options.uses !== undefined && !/^\d+$/.test(options.uses.trim())) {
    throw new InputError('uses', `${JSON.stringify(options.uses)} is not a whole number`);
  }
  return parseInput(registrationTokenCreateSchema, {
    expires_in_seconds: options.expiresIn === undefined ? undefined : parseDuration(options.expiresIn, 'expires_in_seconds'),
    uses: options.uses === undefined ? undefined : Number(options.uses),
    grant_types: options.grant,
    scope: options.scope,
  });
}
