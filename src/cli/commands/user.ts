// `portcullis user …`: create, invite and list the people who log in, require a second factor of
// one, and see and reset their second factors. A password is read from standard input only: on
// the command line it would sit in shell history and in every process listing. An invitation
// mails a link where the person chooses their own password. People are named by their email
// here, as an operator knows them; the admin API names them by id.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import { NotFoundError, PortcullisError } from '../../errors/index.ts';
import { identitySummaryView } from '../../federation/index.ts';
import { parseInput } from '../../oauth/index.ts';
import { parseDuration } from '../../limits/index.ts';
import type { Services } from '../../services.ts';
import {
  FACTOR_KINDS,
  factorResetSchema,
  factorSummaryView,
  type FactorResetInput,
  type FactorSummaryView,
  type UserCreateInput,
} from '../../users/index.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';

const USER_FLAGS = {
  email: '--email',
  password: '--password-stdin',
  name: '--name',
  unverified: '--unverified',
  expires_in: '--expires-in',
  which: '--only',
} as const satisfies FlagsOf<UserCreateInput & FactorResetInput & { expires_in: string }>;

export function addUserCommands(program: Command, io: CliIo): void {
  const printed = printing(io, USER_FLAGS);
  const user = program.command('user').description('manage users');

  printed(
    user
      .command('create')
      .description('create a user; the password is read from standard input')
      .requiredOption('--email <email>', 'email address (the login name)')
      .option('--password-stdin', 'read the password from standard input (required: passwords never go on the command line)')
      .option('--name <name>', 'display name')
      .option('--unverified', 'the person must confirm the email address (a link is not sent: they ask for one on the sign-in page)'),
    {
      run: async (options: { email: string; passwordStdin?: boolean; name?: string; unverified?: boolean }) => {
        const password = await readPassword(io, options.passwordStdin === true);
        // An empty --name is no name, as it always was on the command line.
        const input: UserCreateInput = {
          email: options.email,
          password,
          name: options.name || undefined,
          ...(options.unverified ? { unverified: true } : {}),
        };
        return withServices(io, (services) => services.users.create(input, CLI_ACTOR));
      },
      human: (created) => `id: ${created.id}`,
    },
  );

  printed(
    user
      .command('invite')
      .description('mail an invitation: a link where the person chooses a password (needs SIGNUP=invite or open)')
      .requiredOption('--email <email>', 'the address to invite (the login name of the account)')
      .option('--name <name>', 'display name of the account, which the person may change')
      .option('--expires-in <duration>', 'how long the link works, e.g. 24h or 7d (default 7d, at most 30d)')
      .option('--lang <language>', 'the language of the mail: en or de (default en)'),
    {
      run: async (options: { email: string; name?: string; expiresIn?: string; lang?: string }) => {
        const expiresInSeconds = options.expiresIn === undefined ? undefined : parseDuration(options.expiresIn, 'expires_in');
        return withServices(io, (services) =>
          services.selfService.invite(
            { email: options.email, name: options.name || undefined, expiresInSeconds, lang: options.lang },
            CLI_ACTOR,
          ),
        );
      },
      human: (invited) => `invitation ${invited.id} sent to ${invited.email}, good until ${invited.expires_at}`,
    },
  );

  printed(user.command('list').description('list users'), {
    run: () => withServices(io, (services) => services.users.list()),
    human: (users) => table(users, ['id', 'email', 'name', 'disabled', 'email_verified', 'mfa_required']),
  });

  printed(
    user
      .command('require-mfa <email>')
      .description('every sign-in of this person needs a second factor (asked to add one at the next sign-in if they have none)')
      .option('--off', 'back to what the client and MFA say'),
    {
      run: (options: { off?: boolean }, email: string) =>
        withServices(io, async (services) =>
          services.users.setMfaRequired((await userByEmail(services, email)).id, !options.off, CLI_ACTOR),
        ),
      human: (changed) =>
        changed.mfa_required
          ? `${changed.email}: every sign-in needs a second factor`
          : `${changed.email}: a second factor only when the client or MFA asks for one`,
    },
  );

  printed(user.command('factors <email>').description("a person's second factors (never a secret)"), {
    run: (_options: object, email: string) =>
      withServices(io, async (services) => factorSummaryView(await services.factors.summary((await userByEmail(services, email)).id))),
    human: describeFactors,
  });

  printed(
    user
      .command('reset-factors <email>')
      .description("remove a person's second factors (all unless --only), e.g. when they lost their phone")
      .option('--only <which>', `remove only these: ${FACTOR_KINDS.filter((kind) => kind !== 'all').join(', ')}`),
    {
      run: (options: { only?: string }, email: string) =>
        withServices(io, async (services) => {
          const { which } = parseInput(factorResetSchema, { which: options.only });
          const { id } = await userByEmail(services, email);
          return factorSummaryView(await services.factors.reset(id, which, CLI_ACTOR));
        }),
      human: (left) => `removed; what is left:\n${describeFactors(left)}`,
    },
  );

  printed(
    user
      .command('identities <user>')
      .description("a person's accounts at other identity providers, linked through connections (by email or id)"),
    {
      run: (_options: object, who: string) =>
        withServices(io, async (services) => {
          const { id } = who.includes('@') ? await userByEmail(services, who) : await services.users.get(who);
          return (await services.federation.identities.list(id)).map(identitySummaryView);
        }),
      human: (identities) => table(identities, ['connection', 'display_name', 'email', 'has_tokens', 'created_at', 'last_used_at', 'id']),
    },
  );
}

/** The account of an email, or NotFoundError (as the admin API's 404 for an unknown id). */
async function userByEmail(services: Services, email: string): Promise<{ id: string }> {
  const found = await services.users.findByEmail(email);
  if (!found) throw new NotFoundError(`user ${email}`);
  return found;
}

/** A person's factors for people: one line each, and the recovery codes left. */
function describeFactors(factors: FactorSummaryView): string {
  const used = (at: string | null) => (at ? `last used ${at}` : 'never used');
  return [
    `authenticator app: ${factors.totp ? `added ${factors.totp.created_at}, ${used(factors.totp.last_used_at)}` : '(none)'}`,
    `passkeys:          ${factors.passkeys.length ? '' : '(none)'}`.trimEnd(),
    ...factors.passkeys.map(
      (passkey) =>
        `  ${passkey.name} (${passkey.synced ? 'synced' : 'device-bound'}), added ${passkey.created_at}, ${used(passkey.last_used_at)}  [${passkey.id}]`,
    ),
    `recovery codes:    ${factors.recovery_codes_left} left`,
  ].join('\n');
}

async function readPassword(io: CliIo, fromStdin: boolean): Promise<string> {
  if (!fromStdin) {
    throw new PortcullisError('invalid_input', 2, '--password-stdin is required: pipe the password in, never pass it as an argument');
  }
  // One trailing newline is what `echo` and a terminal add; it is not part of the password.
  return (await io.readStdin()).replace(/\r?\n$/, '');
}
