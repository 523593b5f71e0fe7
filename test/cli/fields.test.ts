// A bad value is reported with the same field on the command line as on the admin API: for each
// command group, the CLI's --json error names the field the service's own schema names (parsed
// here with parseInput, as the admin API parses a request body), and its human message names
// that field and the flag it came from.
import { apiKeyCreateSchema, apiKeyRotateSchema } from '../../src/apikeys/index.ts';
import { clientCreateSchema, clientSecretRotateSchema } from '../../src/clients/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { parseInput } from '../../src/oauth/index.ts';
import { resourceCreateSchema, resourceUpdateSchema } from '../../src/resources/index.ts';
import { userCreateSchema } from '../../src/users/index.ts';
import { cli, cliJson } from '../support/cli.ts';
import { startServices, type TestServices } from '../support/services.ts';
import { testPepper } from '../support/server.ts';

const API = 'https://orders.example.com';
const BELL = '\u0007';
const DAYS_91 = 91 * 86_400;

let running: TestServices;
let env: Record<string, string>;
let clientId: string;
let keyId: string;

beforeAll(async () => {
  running = await startServices();
  env = { DATABASE_URL: running.config.databaseUrl, HASH_PEPPER: testPepper, NODE_ENV: 'test' };
  await cliJson(['resource', 'create', '--audience', API, '--scope', 'orders:read'], env);
  ({ client_id: clientId } = await cliJson<{ client_id: string }>(
    ['client', 'create', '--name', 'svc', '--grant', 'client_credentials'],
    env,
  ));
  ({ id: keyId } = await cliJson<{ id: string }>(['apikey', 'create', '--name', 'k', '--scope', 'orders:read', '--audience', API], env));
});
afterAll(() => running.stop());

/** The field the schema's parse names for `input`: what the admin API reports for that body. */
function schemaField(schema: Parameters<typeof parseInput>[0], input: unknown): string {
  try {
    parseInput(schema, input);
  } catch (error) {
    if (error instanceof InputError) return error.field;
    throw error;
  }
  throw new Error(`the schema accepts ${JSON.stringify(input)}`);
}

// The keys group is absent: its one flag (--force) is a switch, which has no bad value.
const cases: {
  group: string;
  args: () => string[];
  stdin?: string;
  flag: string;
  schema: Parameters<typeof parseInput>[0];
  input: unknown;
}[] = [
  {
    group: 'client',
    args: () => ['client', 'create', '--name', 'x'],
    flag: '--grant',
    schema: clientCreateSchema,
    input: { name: 'x', grant_types: [] },
  },
  {
    group: 'client',
    args: () => ['client', 'create', '--name', 'x', '--grant', 'password'],
    flag: '--grant',
    schema: clientCreateSchema,
    input: { name: 'x', grant_types: ['password'] },
  },
  {
    group: 'client',
    args: () => ['client', 'create', '--name', 'x', '--grant', 'authorization_code', '--redirect-uri', `https://app.example/${BELL}`],
    flag: '--redirect-uri',
    schema: clientCreateSchema,
    input: { name: 'x', grant_types: ['authorization_code'], redirect_uris: [`https://app.example/${BELL}`] },
  },
  {
    group: 'client',
    args: () => ['client', 'create', '--name', 'x', '--grant', 'client_credentials', '--jwks', '{"keys": 1}'],
    flag: '--jwks',
    schema: clientCreateSchema,
    input: { name: 'x', grant_types: ['client_credentials'], jwks: { keys: 1 } },
  },
  {
    group: 'client',
    args: () => ['client', 'secret', 'rotate', clientId, '--grace', '91d'],
    flag: '--grace',
    schema: clientSecretRotateSchema,
    input: { grace_seconds: DAYS_91 },
  },
  {
    group: 'resource',
    args: () => ['resource', 'create', '--audience', 'https://a.example', '--scope', 'x', '--ttl', '30'],
    flag: '--ttl',
    schema: resourceCreateSchema,
    input: { audience: 'https://a.example', scope: 'x', ttl: 30 },
  },
  {
    group: 'resource',
    args: () => ['resource', 'create', '--audience', 'https://a.example', '--scope', 'x', '--ttl', '90.5'],
    flag: '--ttl',
    schema: resourceCreateSchema,
    input: { audience: 'https://a.example', scope: 'x', ttl: 90.5 },
  },
  {
    group: 'resource',
    args: () => ['resource', 'create', '--audience', 'https://a.example', '--scope', 'x', '--ttl', 'soon'],
    flag: '--ttl',
    schema: resourceCreateSchema,
    input: { audience: 'https://a.example', scope: 'x', ttl: 'soon' },
  },
  {
    group: 'resource',
    args: () => ['resource', 'update', '--audience', API, '--personal-key-scope', `orders:read${BELL}`],
    flag: '--personal-key-scope',
    schema: resourceUpdateSchema,
    input: { personal_key_scope: `orders:read${BELL}` },
  },
  {
    group: 'apikey',
    args: () => ['apikey', 'create', '--name', 'x', '--scope', 'orders:read', '--expires-in', '10s'],
    flag: '--expires-in',
    schema: apiKeyCreateSchema,
    input: { name: 'x', scope: 'orders:read', expires_in_seconds: 10 },
  },
  {
    group: 'apikey',
    args: () => ['apikey', 'create', '--name', 'x', '--scope', 'orders:read', '--rate-limit', 'lots'],
    flag: '--rate-limit',
    schema: apiKeyCreateSchema,
    input: { name: 'x', scope: 'orders:read', rate_limit: 'lots' },
  },
  {
    group: 'apikey',
    args: () => ['apikey', 'create', '--name', 'x', '--scope', 'orders:read', '--owner-user', 'u\u0001'],
    flag: '--owner-user',
    schema: apiKeyCreateSchema,
    input: { name: 'x', scope: 'orders:read', owner_user_id: 'u\u0001' },
  },
  {
    group: 'apikey',
    args: () => ['apikey', 'rotate', keyId, '--grace', '91d'],
    flag: '--grace',
    schema: apiKeyRotateSchema,
    input: { grace_seconds: DAYS_91 },
  },
  {
    group: 'user',
    args: () => ['user', 'create', '--email', 'short@example.com', '--password-stdin'],
    stdin: 'short',
    flag: '--password-stdin',
    schema: userCreateSchema,
    input: { email: 'short@example.com', password: 'short' },
  },
  {
    group: 'user',
    args: () => ['user', 'create', '--email', `${'a'.repeat(320)}@example.com`, '--password-stdin'],
    stdin: 'a long passphrase',
    flag: '--email',
    schema: userCreateSchema,
    input: { email: `${'a'.repeat(320)}@example.com`, password: 'a long passphrase' },
  },
  {
    group: 'demo',
    args: () => ['demo', '--redirect-uri', `http://localhost:8080/${BELL}`],
    flag: '--redirect-uri',
    schema: clientCreateSchema,
    input: { name: 'Demo app', public: true, grant_types: ['authorization_code'], redirect_uris: [`http://localhost:8080/${BELL}`] },
  },
];

test.each(cases)('$group: $flag reports the field the schema names', async ({ args, stdin, flag, schema, input }) => {
  const field = schemaField(schema, input);
  const json = await cli([...args(), '--json'], env, stdin);
  expect(json.code).toBe(1);
  expect(json.stdout).toBe('');
  expect(JSON.parse(json.stderr)).toMatchObject({ error: 'invalid_input', field });
  const human = await cli(args(), env, stdin);
  expect(human.code).toBe(1);
  expect(human.stderr).toMatch(new RegExp(`^portcullis: ${field} \\(${flag}\\): `));
});

test('a field no flag gave (an operand) is named alone', async () => {
  expect((await cli(['apikey', 'revoke', keyId], env)).code).toBe(0);
  const refused = await cli(['apikey', 'rotate', keyId], env);
  expect(refused.stderr).toBe('portcullis: id: a revoked key cannot be rotated\n');
});
