// `portcullis user …`: create, invite and list the people who log in. A password is read from
// standard input only: on the command line it would sit in shell history and in every process
// listing. An invitation mails a link where the person chooses their own password.
import type { Command } from 'commander';
import { CLI_ACTOR } from '../../audit/index.ts';
import { PortcullisError } from '../../errors/index.ts';
import { parseDuration } from '../../limits/index.ts';
import type { UserCreateInput } from '../../users/index.ts';
import { printing, table, type FlagsOf } from '../output.ts';
import type { CliIo } from '../io.ts';
import { withServices } from '../services.ts';

const USER_FLAGS = {
  email: '--email',
  password: '--password-stdin',
  name: '--name',
  unverified: '--unverified',
  expires_in: '--expires-in',
} as const satisfies FlagsOf<UserCreateInput & { expires_in: string }>;

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
    human: (users) => table(users, ['id', 'email', 'name', 'disabled', 'email_verified']),
  });
}

async function readPassword(io: CliIo, fromStdin: boolean): Promise<string> {
  if (!fromStdin) {
    throw new PortcullisError('invalid_input', 2, '--password-stdin is required: pipe the password in, never pass it as an argument');
  }
  // One trailing newline is what `echo` and a terminal add; it is not part of the password.
  return (await io.readStdin()).replace(/\r?\n$/, '');
}
