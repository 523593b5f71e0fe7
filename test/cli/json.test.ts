// Every command but `serve` accepts --json and then prints exactly one JSON document on stdout
// and nothing on stderr (README, "Command line"): scripts parse what it prints. The list of
// commands comes from the program itself, so a new command without --json fails here.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/index.ts';
import { cli } from '../support/cli.ts';
import { startServices, type TestServices } from '../support/services.ts';
import { testPepper } from '../support/server.ts';

const API = 'https://orders.example.com';
let running: TestServices;
let env: Record<string, string>;

beforeAll(async () => {
  running = await startServices();
  // The signing keys a server makes at its first start, so that `keys rotate` has keys to rotate.
  await running.services.keys.ensure();
  // Invitations need SIGNUP=invite; their mail lands in a folder of this test's own.
  const outbox = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-json-outbox-'));
  env = { DATABASE_URL: running.config.databaseUrl, HASH_PEPPER: testPepper, NODE_ENV: 'test', SIGNUP: 'invite', MAIL_OUTBOX_DIR: outbox };
});
afterAll(() => running.stop());

/** Every command that runs (has no subcommands), as the words that name it. */
function leafCommands(command: Command, path: string[] = []): string[] {
  if (command.commands.length === 0) return [path.join(' ')];
  return command.commands.flatMap((sub) => leafCommands(sub, [...path, sub.name()]));
}

/** Runs a command with --json and returns the one document it printed. */
async function oneDocument(args: string[], stdin = ''): Promise<Record<string, string>> {
  const result = await cli([...args, '--json'], env, stdin);
  expect({ args, code: result.code, stderr: result.stderr }).toEqual({ args, code: 0, stderr: '' });
  const document = JSON.parse(result.stdout);
  // Exactly one document and nothing around it: the output is that document, printed whole.
  expect(result.stdout).toBe(`${JSON.stringify(document, null, 2)}\n`);
  return document;
}

test('every command prints exactly one JSON document with --json', async () => {
  const ran = new Set<string>();
  // `words` name the command (as leafCommands does), then its operands and flags.
  const command = async (words: string, operands: string[] = [], options: string[] = [], stdin?: string) => {
    ran.add(words);
    return oneDocument([...words.split(' '), ...operands, ...options], stdin);
  };

  await command('migrate');
  const client = await command('client create', [], ['--name', 'svc', '--grant', 'client_credentials']);
  await command('client list');
  await command('client secret rotate', [client.client_id!], ['--grace', '0']);
  await command('client show', [client.client_id!]);
  await command('client update', [client.client_id!], ['--require-mfa']);
  const token = await command('client registration-token create', [], ['--uses', '1']);
  await command('client registration-token list');
  await command('client registration-token delete', [token.id!]);
  await command('resource create', [], ['--audience', API, '--scope', 'orders:read']);
  await command('resource update', [], ['--audience', API, '--personal-key-scope', 'orders:read']);
  await command('resource list');
  await command('keys list');
  await command('keys rotate', [], ['--force']);
  await command('demo');
  const key = await command('apikey create', [], ['--name', 'k', '--scope', 'orders:read', '--audience', API]);
  await command('apikey list');
  const rotated = await command('apikey rotate', [key.id!]);
  await command('apikey revoke', [rotated.id!]);
  const person = await command('user create', [], ['--email', 'ada@example.com', '--password-stdin'], 'a long passphrase\n');
  await command('user invite', [], ['--email', 'grace@example.com', '--name', 'Grace', '--expires-in', '2h']);
  await command('user list');
  await command('user require-mfa', ['ada@example.com']);
  await command('user factors', ['ada@example.com']);
  await command('user reset-factors', ['ada@example.com'], ['--only', 'totp']);
  await command(
    'connection create',
    [],
    [
      '--name',
      'plain',
      '--type',
      'oauth2',
      '--display-name',
      'Plain',
      '--authorization-url',
      'https://oauth.example.com/authorize',
      '--token-url',
      'https://oauth.example.com/token',
      '--userinfo-url',
      'https://oauth.example.com/me',
      '--client-id',
      'c',
      '--client-secret-stdin',
    ],
    'a secret\n',
  );
  await command('connection list');
  await command('connection show', ['plain']);
  await command('connection update', ['plain'], ['--disable']);
  await command('user identities', ['ada@example.com']);
  await command('connection delete', ['plain']);
  await command('role create', ['reader'], ['--permission', `${API}:orders:read`, '--description', 'Reads orders']);
  await command('role list');
  await command('role show', ['reader']);
  await command('role update', ['reader'], ['--default']);
  await command('role assign', ['reader'], ['--user', person.id!]);
  await command('role unassign', ['reader'], ['--user', person.id!]);
  await command('organization role create', ['admin'], ['--permission', `${API}:orders:read`, '--manage-keys']);
  await command('organization role list');
  await command('organization role show', ['admin']);
  await command('organization role update', ['admin'], ['--description', 'Runs the organization']);
  const organization = await command('organization create', [], ['--name', 'Acme']);
  await command('organization list');
  await command('organization show', [organization.id!]);
  await command('organization update', [organization.id!], ['--description', 'Anvils']);
  await command('organization member add', [organization.id!], ['--user', person.id!, '--role', 'admin']);
  await command('organization member list', [organization.id!]);
  await command('organization member roles', [organization.id!], ['--user', person.id!, '--no-roles']);
  await command('organization member remove', [organization.id!], ['--user', person.id!]);
  const invitation = await command('organization invite', [organization.id!], ['--email', 'linus@example.com', '--role', 'admin']);
  await command('organization invitation list', [organization.id!]);
  await command('organization invitation revoke', [organization.id!, invitation.id!]);
  await command('organization delete', [organization.id!]);
  await command('organization role delete', ['admin']);
  await command('role delete', ['reader']);
  await command('export');
  await command('apply', [], ['-f', '-'], 'portcullis: 1\n');

  const noop = { stdout: () => undefined, stderr: () => undefined, readStdin: async () => '', env: {} };
  expect([...ran].sort()).toEqual(
    leafCommands(buildProgram(noop))
      .filter((words) => words !== 'serve')
      .sort(),
  );
});

test('serve takes no --json: its logs are always JSON', async () => {
  const result = await cli(['serve', '--json'], env);
  expect(result.code).toBe(1);
  expect(result.stderr).toMatch(/unknown option '--json'/);
});
