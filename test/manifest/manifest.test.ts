// Configuration as code through the real CLI on a real database: `portcullis export` writes what
// `portcullis apply` reads; apply prints its plan, is idempotent, changes nothing with --dry-run,
// leaves alone (or with --prune deletes) what the file does not name, and refuses a bad file
// before any change, naming the line and the field.
import crypto from 'node:crypto';
import { parse, stringify } from 'yaml';
import { cli, cliJson } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { testPepper } from '../support/server.ts';
import { auditTypes, manifestFolder, newSecret, snapshot } from './support.ts';

const ORDERS = 'https://orders.example';
const REPORTS = 'https://reports.example/api';

type Document = { portcullis: number; resources: Record<string, unknown>[]; clients: Record<string, unknown>[] };
type Applied = {
  dry_run: boolean;
  applied: boolean;
  summary: Record<string, number>;
  changes: { action: string; kind: string; id: string; fields?: { field: string; from?: unknown; to?: unknown }[] }[];
};

const files = manifestFolder();
const databases: TestDatabase[] = [];
type Env = Record<string, string> & { DATABASE_URL: string };
const secrets = { BILLING_SECRET: newSecret(), WEB_SECRET: newSecret(), POST_SECRET: newSecret() };

/** A fresh, empty database and the environment the CLI runs with on it. */
async function freshEnv(): Promise<Env> {
  const database = await createTestDatabase();
  databases.push(database);
  return { DATABASE_URL: database.url, HASH_PEPPER: testPepper, NODE_ENV: 'test', ...secrets };
}
afterAll(async () => {
  for (const database of databases) await database.drop();
  files.remove();
});

const publicJwk = () => crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'jwk' });

/** Everything `resource create/update` and `client create` can set, made through the CLI. */
async function populate(env: Record<string, string>): Promise<void> {
  const run = (args: string[]) => cliJson(args, env);
  await run(['resource', 'create', '--audience', ORDERS, '--scope', 'orders:read orders:write', '--ttl', '600', '--name', 'Orders']);
  await run(['resource', 'update', '--audience', ORDERS, '--personal-key-scope', 'orders:read']);
  await run(['resource', 'create', '--audience', REPORTS, '--scope', 'reports:read']);
  await run([
    'client',
    'create',
    '--name',
    'billing',
    '--grant',
    'client_credentials',
    '--scope',
    'orders:read reports:read',
    '--default-resource',
    ORDERS,
  ]);
  await run([
    'client', 'create', '--name', 'web', '--grant', 'authorization_code', '--grant', 'refresh_token',
    '--redirect-uri', 'https://app.example/cb', '--redirect-uri', 'https://app.example/cb2',
    '--post-logout-redirect-uri', 'https://app.example/bye', '--scope', 'orders:read', '--always-issue-refresh-token',
  ]); // prettier-ignore
  await run(['client', 'create', '--name', 'poster', '--grant', 'client_credentials', '--auth-method', 'client_secret_post']);
  await run([
    'client',
    'create',
    '--name',
    'keyed',
    '--grant',
    'client_credentials',
    '--auth-method',
    'private_key_jwt',
    '--jwks',
    JSON.stringify({ keys: [publicJwk()] }),
  ]);
  await run([
    'client',
    'create',
    '--name',
    'spa',
    '--public',
    '--grant',
    'authorization_code',
    '--redirect-uri',
    'http://localhost:5173/cb',
    '--redirect-uri',
    'com.example.app:/cb',
  ]);
}

/** The export, with a secret reference added to each client that authenticates with a secret (export writes none). */
function withSecretReferences(document: Document): Document {
  const byName: Record<string, string> = { billing: 'BILLING_SECRET', web: 'WEB_SECRET', poster: 'POST_SECRET' };
  return {
    ...document,
    clients: document.clients.map((client) =>
      byName[client.name as string] ? { ...client, client_secret: { from_env: byName[client.name as string] } } : client,
    ),
  };
}

describe('export, then apply to an empty database', () => {
  let source: Env;
  let target: Env;
  let exported: string;
  let file: string;

  beforeAll(async () => {
    source = await freshEnv();
    target = await freshEnv();
    await populate(source);
    exported = (await cli(['export'], source)).stdout;
    file = files.write('round-trip.yaml', withSecretReferences(parse(exported) as Document));
  });

  test('export writes every resource and client, and no secret or hash', async () => {
    const document = parse(exported) as Document;
    expect(document.portcullis).toBe(1);
    expect(document.resources.map((resource) => resource.audience)).toEqual([ORDERS, REPORTS]);
    expect(document.resources[0]).toEqual({
      audience: ORDERS,
      name: 'Orders',
      scope: 'orders:read orders:write',
      ttl: 600,
      personal_key_scope: 'orders:read',
    });
    expect(document.clients.map((client) => client.name).sort()).toEqual(['billing', 'keyed', 'poster', 'spa', 'web']);
    expect(exported.split('\n').filter((line) => !line.startsWith('#'))).not.toContainEqual(
      expect.stringMatching(/client_secret:|hmac-sha256/),
    );
    expect(await cliJson(['export', '--yaml'], source).catch(() => 'conflict')).toBe('conflict');
    expect(await cliJson<Document>(['export'], source)).toEqual(document);
  });

  test('gives the same document back', async () => {
    const applied = await cliJson<Applied>(['apply', '-f', file], target);
    expect(applied).toMatchObject({ dry_run: false, applied: true, summary: { create: 7, update: 0, delete: 0, unchanged: 0 } });
    expect((await cli(['export'], target)).stdout).toBe(exported);
    expect((await cli(['export', '--json'], target)).stdout).toBe((await cli(['export', '--json'], source)).stdout);
  });

  test('a second apply changes nothing, says so, and writes no audit event', async () => {
    const before = await snapshot(target.DATABASE_URL);
    const again = await cli(['apply', '-f', file], target);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe('No changes: the server matches the file (7 unchanged).\n');
    expect(await cliJson<Applied>(['apply', '-f', file], target)).toMatchObject({
      applied: false,
      summary: { create: 0, update: 0, delete: 0, unchanged: 7 },
    });
    expect(await snapshot(target.DATABASE_URL)).toBe(before);
  });

  test('each creation is one audit event, by the CLI administrator', async () => {
    const types = await auditTypes(target.DATABASE_URL);
    expect(types.filter((type) => type === 'resource.created')).toHaveLength(2);
    expect(types.filter((type) => type === 'client.created')).toHaveLength(5);
    expect(types).toHaveLength(7);
  });

  test('the secrets applied are stored only as keyed hashes', async () => {
    const dump = await snapshot(target.DATABASE_URL);
    for (const secret of Object.values(secrets)) expect(dump).not.toContain(secret);
    expect(dump.match(/hmac-sha256:/g)).toHaveLength(3);
  });
});

describe('the plan', () => {
  let env: Env;
  const base: Document = {
    portcullis: 1,
    resources: [{ audience: ORDERS, scope: 'orders:read orders:write', name: 'Orders' }],
    clients: [
      {
        client_id: 'billing',
        name: 'Billing',
        grant_types: ['client_credentials'],
        scope: 'orders:read',
        client_secret: { from_env: 'BILLING_SECRET' },
      },
      { client_id: 'spa', name: 'SPA', public: true, grant_types: ['authorization_code'], redirect_uris: ['http://localhost:5173/cb'] },
    ],
  };
  const changed: Document = {
    ...base,
    resources: [{ ...base.resources[0], scope: 'orders:read orders:write orders:admin', ttl: 300 }],
    clients: [{ ...base.clients[0], scope: 'orders:read orders:write', default_resource: ORDERS }, base.clients[1]!],
  };

  beforeAll(async () => {
    env = await freshEnv();
    await cliJson(['apply', '-f', files.write('plan-base.yaml', base)], env);
  });

  test('a first apply lists what it creates, field by field, and the secret only by its reference', async () => {
    const other = await freshEnv();
    const result = await cli(['apply', '-f', files.write('plan-first.yaml', base)], other);
    expect(result.stdout).toBe(
      [
        `+ resource ${ORDERS}`,
        '    name: "Orders"',
        '    scope: "orders:read orders:write"',
        '    ttl: 900',
        '+ client billing',
        '    name: "Billing"',
        '    grant_types: ["client_credentials"]',
        '    scope: "orders:read"',
        '    token_endpoint_auth_method: "client_secret_basic"',
        '    client_secret: (from env BILLING_SECRET)',
        '+ client spa',
        '    name: "SPA"',
        '    public: true',
        '    grant_types: ["authorization_code"]',
        '    redirect_uris: ["http://localhost:5173/cb"]',
        'Plan: 3 to create, 0 to update, 0 to delete; 0 unchanged.',
        'Applied.',
        '',
      ].join('\n'),
    );
    expect(result.stdout + result.stderr).not.toContain(secrets.BILLING_SECRET);
  });

  test('--dry-run prints the changes, old → new, and changes nothing', async () => {
    const file = files.write('plan-changed.yaml', changed);
    const before = await snapshot(env.DATABASE_URL);
    const dry = await cli(['apply', '-f', file, '--dry-run'], env);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe(
      [
        `~ resource ${ORDERS}`,
        '    scope: "orders:read orders:write" → "orders:read orders:write orders:admin"',
        '    ttl: 900 → 300',
        '~ client billing',
        '    scope: "orders:read" → "orders:read orders:write"',
        `    default_resource: (none) → "${ORDERS}"`,
        'Plan: 0 to create, 2 to update, 0 to delete; 1 unchanged.',
        'Dry run: nothing was changed.',
        '',
      ].join('\n'),
    );
    const json = await cliJson<Applied>(['apply', '-f', file, '--dry-run'], env);
    expect(json).toMatchObject({ dry_run: true, applied: false, summary: { update: 2, unchanged: 1 } });
    expect(json.changes[1]).toEqual({
      action: 'update',
      kind: 'client',
      id: 'billing',
      fields: [
        { field: 'scope', from: 'orders:read', to: 'orders:read orders:write' },
        { field: 'default_resource', from: null, to: ORDERS },
      ],
    });
    expect(await snapshot(env.DATABASE_URL)).toBe(before);
  });

  test('apply makes the changes, one audit event each, and the next apply finds none', async () => {
    const file = files.write('plan-changed.yaml', changed);
    const before = (await auditTypes(env.DATABASE_URL)).length;
    expect((await cliJson<Applied>(['apply', '-f', file], env)).summary).toMatchObject({ update: 2, unchanged: 1 });
    expect((await auditTypes(env.DATABASE_URL)).slice(before)).toEqual(['resource.updated', 'client.updated']);
    expect(await cliJson<Document>(['export'], env)).toMatchObject({
      resources: [{ audience: ORDERS, scope: 'orders:read orders:write orders:admin', ttl: 300 }],
      clients: [{ client_id: 'billing', default_resource: ORDERS }, { client_id: 'spa' }],
    });
    expect((await cli(['apply', '-f', file], env)).stdout).toMatch(/^No changes/);
  });

  test('what the file leaves out is left alone and listed; --prune deletes it', async () => {
    const { client_id: stray } = await cliJson<{ client_id: string }>(
      ['client', 'create', '--name', 'stray', '--grant', 'client_credentials'],
      env,
    );
    await cliJson(['resource', 'create', '--audience', REPORTS, '--scope', 'reports:read'], env);
    const file = files.write('plan-changed.yaml', changed);
    const kept = await cli(['apply', '-f', file], env);
    expect(kept.stdout).toContain(`  client ${stray}: not in the file, left alone (--prune deletes it)\n`);
    expect(kept.stdout).toContain(`  resource ${REPORTS}: not in the file, left alone (--prune deletes it)\n`);
    expect(kept.stdout).toMatch(/No changes: the server matches the file \(3 unchanged, 2 not in the file\)\./);

    const before = (await auditTypes(env.DATABASE_URL)).length;
    const pruned = await cli(['apply', '-f', file, '--prune'], env);
    expect(pruned.stdout).toContain(`- client ${stray}\n- resource ${REPORTS}\n`);
    expect((await auditTypes(env.DATABASE_URL)).slice(before)).toEqual(['client.deleted', 'resource.deleted']);
    expect((await cliJson<Document>(['export'], env)).clients.map((client) => client.client_id)).toEqual(['billing', 'spa']);
  });

  test('--prune refuses, before any change, to delete an API that live API keys are for', async () => {
    await cliJson(['resource', 'create', '--audience', REPORTS, '--scope', 'reports:read'], env);
    await cliJson(['apikey', 'create', '--name', 'k', '--scope', 'reports:read', '--audience', REPORTS], env);
    const { client_id: stray } = await cliJson<{ client_id: string }>(
      ['client', 'create', '--name', 'stray', '--grant', 'client_credentials'],
      env,
    );
    const before = await snapshot(env.DATABASE_URL);
    const refused = await cli(['apply', '-f', files.write('plan-changed.yaml', changed), '--prune'], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(new RegExp(`--prune would delete the API resource ${REPORTS}.*1 API key`));
    expect(await snapshot(env.DATABASE_URL)).toBe(before);
    expect((await cliJson<{ client_id: string }[]>(['client', 'list'], env)).map((client) => client.client_id)).toContain(stray);
  });

  test('the file can come on standard input, as JSON', async () => {
    const result = await cli(['apply', '-f', '-', '--dry-run'], env, JSON.stringify(changed));
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^No changes/m);
  });
});

describe('a bad file is refused before any change, naming the line', () => {
  let env: Env;
  const valid = (name: string) => ({
    client_id: name,
    name,
    grant_types: ['client_credentials'],
    client_secret: { from_env: 'BILLING_SECRET' },
  });
  // Each file starts with an entry that would be created, so a refusal shows nothing was half-applied.
  const head = [
    'portcullis: 1',
    'resources:',
    `  - audience: ${ORDERS}`,
    '    scope: orders:read',
    'clients:',
    '  - client_id: fine',
    '    name: Fine',
    '    grant_types: [client_credentials]',
    '    client_secret: { from_env: BILLING_SECRET }',
  ];
  const entry = (...lines: string[]) => [...head, ...lines].join('\n') + '\n';

  beforeAll(async () => {
    env = await freshEnv();
    await cliJson(
      [
        'apply',
        '-f',
        files.write('bad-base.yaml', {
          portcullis: 1,
          clients: [
            { ...valid('kept'), scope: '' },
            { client_id: 'app', name: 'App', public: true, grant_types: ['authorization_code'], redirect_uris: ['http://localhost/cb'] },
          ],
        }),
      ],
      env,
    );
    files.write('short-secret.txt', 'too short\n');
  });

  test.each<[string, string, number, string, RegExp]>([
    ['YAML that does not parse', entry('  - client_id: other', '   name: x'), 11, '', /is not valid YAML/],
    ['a duplicate key', entry('  - client_id: other', '    name: x', '    name: y'), 12, '', /is not valid YAML: Map keys must be unique/],
    ['JSON that does not parse', '{\n  "portcullis": 1,\n  "clients": [],\n}\n', 4, '', /is not valid JSON/],
    ['no version', 'clients: []\n', 1, 'portcullis', /is required/],
    ['another version', 'portcullis: 2\n', 1, 'portcullis', /must be 1/],
    ['an unknown top-level field', 'portcullis: 1\nusers: []\n', 2, 'users', /is not a field of the file/],
    [
      'an unknown field of a client',
      entry('  - client_id: other', '    name: x', '    grant_types: [client_credentials]', '    colour: red'),
      13,
      'clients[1].colour',
      /is not a field of a client/,
    ],
    [
      'an unknown field of a resource',
      entry().replace('    scope: orders:read\n', '    scope: orders:read\n    owner: me\n'),
      5,
      'resources[0].owner',
      /is not a field of an API resource/,
    ],
    [
      'a secret written in the file',
      entry().replace('{ from_env: BILLING_SECRET }', '{ value: hunter2hunter2 }'),
      9,
      'clients[0].client_secret.value',
      /is not a field of a secret reference/,
    ],
    [
      'a wrongly typed field',
      entry('  - client_id: other', '    name: x', '    grant_types: client_credentials'),
      12,
      'clients[1].grant_types',
      /expected array/,
    ],
    [
      'an unsupported grant type',
      entry('  - client_id: other', '    name: x', '    grant_types: [password]'),
      12,
      'clients[1].grant_types[0]',
      /not one of/,
    ],
    [
      'a bad client id',
      entry('  - client_id: -dash', '    name: x', '    grant_types: [client_credentials]'),
      10,
      'clients[1].client_id',
      /letter or digit/,
    ],
    [
      'a redirect URI the rules refuse',
      entry(
        '  - client_id: other',
        '    name: x',
        '    grant_types: [authorization_code]',
        '    redirect_uris:',
        '      - http://evil.example/cb',
        '    client_secret: { from_env: BILLING_SECRET }',
      ),
      13,
      'clients[1].redirect_uris',
      /loopback/,
    ],
    [
      'a scope no API accepts',
      entry(
        '  - client_id: other',
        '    name: x',
        '    grant_types: [client_credentials]',
        '    scope: orders:read orders:delete',
        '    client_secret: { from_env: BILLING_SECRET }',
      ),
      13,
      'clients[1].scope',
      /orders:delete is a scope no API resource accepts/,
    ],
    [
      'a default resource no API has',
      entry(
        '  - client_id: other',
        '    name: x',
        '    grant_types: [client_credentials]',
        '    default_resource: https://nowhere.example',
        '    client_secret: { from_env: BILLING_SECRET }',
      ),
      13,
      'clients[1].default_resource',
      /no API resource has audience/,
    ],
    [
      'a personal-key scope the API does not accept',
      entry().replace('    scope: orders:read\n', '    scope: orders:read\n    personal_key_scope: orders:write\n'),
      5,
      'resources[0].personal_key_scope',
      /not a scope this API accepts/,
    ],
    [
      'a client named twice',
      entry('  - client_id: fine', '    name: again', '    grant_types: [client_credentials]'),
      10,
      'clients[1].client_id',
      /fine is named twice \(also at line 6\)/,
    ],
    [
      'a new secret client without a secret',
      entry('  - client_id: other', '    name: x', '    grant_types: [client_credentials]'),
      10,
      'clients[1].client_id',
      /needs client_secret: \{ from_env: NAME \}/,
    ],
    [
      'a secret for a public client',
      entry(
        '  - client_id: other',
        '    name: x',
        '    public: true',
        '    grant_types: [authorization_code]',
        '    redirect_uris: [http://localhost/cb]',
        '    client_secret: { from_env: BILLING_SECRET }',
      ),
      15,
      'clients[1].client_secret',
      /authenticates with none has no secret/,
    ],
    [
      'a secret variable that is not set',
      entry('  - client_id: other', '    name: x', '    grant_types: [client_credentials]', '    client_secret: { from_env: NOT_SET }'),
      13,
      'clients[1].client_secret',
      /environment variable NOT_SET is not set/,
    ],
    [
      'a secret file that is missing',
      entry(
        '  - client_id: other',
        '    name: x',
        '    grant_types: [client_credentials]',
        '    client_secret: { from_file: missing.txt }',
      ),
      13,
      'clients[1].client_secret',
      /cannot read the secret file missing.txt/,
    ],
    [
      'a secret that is too short',
      entry(
        '  - client_id: other',
        '    name: x',
        '    grant_types: [client_credentials]',
        '    client_secret: { from_file: short-secret.txt }',
      ),
      13,
      'clients[1].client_secret',
      /at least 32 characters/,
    ],
    [
      'both kinds of reference',
      entry(
        '  - client_id: other',
        '    name: x',
        '    grant_types: [client_credentials]',
        '    client_secret: { from_env: A, from_file: b }',
      ),
      13,
      'clients[1].client_secret',
      /exactly one of from_env and from_file/,
    ],
    [
      'an existing public client made confidential',
      entry('  - client_id: app', '    name: App', '    grant_types: [client_credentials]'),
      10,
      'clients[1].public',
      /cannot change on an existing client/,
    ],
    [
      'an existing secret client moved to keys',
      entry(
        '  - client_id: kept',
        '    name: kept',
        '    grant_types: [client_credentials]',
        '    token_endpoint_auth_method: private_key_jwt',
        `    jwks: { keys: [${JSON.stringify(publicJwk())}] }`,
      ),
      13,
      'clients[1].token_endpoint_auth_method',
      /cannot change from client_secret_basic to private_key_jwt/,
    ],
  ])('%s', async (_case, text, line, field, reason) => {
    const file = files.write(text.startsWith('{') ? 'manifest.json' : 'manifest.yaml', text);
    const before = await snapshot(env.DATABASE_URL);
    const human = await cli(['apply', '-f', file], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    const prefix = `portcullis: ${file}:${line}: ${field ? `${field}: ` : ''}`;
    expect(human.stderr.startsWith(prefix) ? human.stderr.slice(prefix.length) : human.stderr).toMatch(reason);
    expect(human.stderr).toMatch(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    const json = await cli(['apply', '-f', file, '--json', '--dry-run'], env);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'invalid_input', field });
    expect(await snapshot(env.DATABASE_URL)).toBe(before);
  });

  test('a file that cannot be read names the flag', async () => {
    const result = await cli(['apply', '-f', `${files.folder}/nowhere.yaml`], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^portcullis: file \(--file\): cannot read .*nowhere\.yaml \(ENOENT\)/);
  });

  test('no refusal prints a secret', async () => {
    const file = files.write('leak.yaml', stringify({ portcullis: 1, clients: [{ ...valid('leak'), scope: 'nope' }] }));
    const result = await cli(['apply', '-f', file], env);
    expect(result.code).toBe(1);
    expect(result.stderr).not.toContain(secrets.BILLING_SECRET);
  });
});
