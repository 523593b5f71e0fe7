// `portcullis apikey …`: create, list, revoke and rotate API keys. The flags map onto the API-key
// service's inputs (src/apikeys/schema.ts) in their wire names.
import type { Command } from 'commander';
import type { ApiKeyCreateInput, ApiKeyRotateInput } from '../../apikeys/index.ts';
import { CLI_ACTOR } from '../../audit/index.ts';
import { parseDuration } from '../../limits/index.ts';
import { collect, graceInput, graceOption } from '../flags.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';

const APIKEY_FLAGS = {
  name: '--name',
  scope: '--scope',
  audiences: '--audience',
  expires_in_seconds: '--expires-in',
  owner_user_id: '--owner-user',
  owner_client_id: '--owner-client',
  organization_id: '--organization',
  rate_limit: '--rate-limit',
  grace_seconds: '--grace',
} as const satisfies FlagsOf<ApiKeyCreateInput & ApiKeyRotateInput>;

type CreateOptions = {
  name: string;
  scope: string;
  audience?: string[];
  expiresIn?: string;
  ownerUser?: string;
  ownerClient?: string;
  organization?: string;
  rateLimit?: string;
};

export function addApiKeyCommands(program: Command, io: CliIo): void {
  const printed = printing(io, APIKEY_FLAGS);
  const apikey = program.command('apikey').description('manage API keys (long-lived credentials for server-to-server calls)');

  printed(
    apikey
      .command('create')
      .description('create an API key; prints it once (only a keyed hash is stored)')
      .requiredOption('--name <name>', 'what the key is for')
      .requiredOption('--scope <scopes>', 'space-separated scopes the key carries')
      .option('--audience <uri>', 'an API resource the key may be used for (repeat; none: any)', collect)
      .option('--expires-in <duration>', 'lifetime, e.g. 90d, 12h (default: no expiry)')
      .option('--owner-user <id>', 'the user the key acts for')
      .option('--owner-client <id>', 'the client the key identifies')
      .option('--organization <id>', 'the organization that owns the key (then no user or client does; give --audience)')
      .option('--rate-limit <n/window>', 'requests allowed per window, e.g. 100/1m'),
    {
      run: (options: CreateOptions) => withServices(io, (services) => services.apiKeys.create(createInput(options), CLI_ACTOR)),
      human: (created) => [`id:  ${created.id}`, `key: ${created.key}`, 'The key is shown only now: store it safely.'].join('\n'),
    },
  );

  printed(apikey.command('list').description('list API keys (never the keys themselves)'), {
    run: () => withServices(io, (services) => services.apiKeys.list()),
    human: (keys) => table(keys, ['id', 'name', 'display_prefix', 'scope', 'expires_at', 'revoked_at', 'use_count']),
  });

  printed(apikey.command('revoke <id>').description('revoke an API key at once'), {
    run: (_options: object, id: string) => withServices(io, (services) => services.apiKeys.revoke(id, CLI_ACTOR)),
    human: (revoked) => `revoked ${revoked.id} (${revoked.display_prefix}…)`,
  });

  printed(
    apikey
      .command('rotate <id>')
      .description('issue a new key with the same settings; the old one works until the grace period ends')
      .addOption(graceOption('key', '0, 1h, 7d')),
    {
      run: (options: { grace?: string }, id: string) =>
        withServices(io, (services) => services.apiKeys.rotate(id, graceInput(options.grace), CLI_ACTOR)),
      human: (rotated) =>
        [`id:  ${rotated.id}`, `key: ${rotated.key}`, `The previous key works until ${rotated.previous_key_expires_at}.`].join('\n'),
    },
  );
}

function createInput(options: CreateOptions): ApiKeyCreateInput {
  return {
    name: options.name,
    scope: options.scope,
    audiences: options.audience,
    expires_in_seconds: options.expiresIn === undefined ? undefined : parseDuration(options.expiresIn, 'expires_in_seconds'),
    owner_user_id: options.ownerUser,
    owner_client_id: options.ownerClient,
    organization_id: options.organization,
    rate_limit: options.rateLimit,
  };
}
