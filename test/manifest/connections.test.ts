// Connections in configuration as code, through the real CLI on a real database: apply creates
// them (an OpenID Connect one against a second Portcullis as its upstream, whose discovery
// document the connection service fetches), a second apply changes nothing, a changed field is an
// update of that field alone, a secret is read from where the file says and replaced only when it
// differs, export writes no secret and applies back unchanged, --prune deletes, and a bad entry is
// refused before any change with its line and field.
import { parse } from 'yaml';
import { cli, cliJson } from '../support/cli.ts';
import { openDatabase } from '../../src/db/index.ts';
import { startServer, testPepper, type RunningServer } from '../support/server.ts';
import { startServices, type TestServices } from '../support/services.ts';
import { manifestFolder } from './support.ts';

type Applied = {
  dry_run: boolean;
  applied: boolean;
  summary: Record<string, number>;
  changes: { action: string; kind: string; id: string; fields?: { field: string; from?: unknown; to?: unknown }[] }[];
};

const files = manifestFolder();
const secrets = { GITHUB_SECRET: 'gh-upstream-secret-1', UPSTREAM_SECRET: 'oidc-upstream-secret-1', OTHER_SECRET: 'gh-upstream-secret-2' };
let upstream: RunningServer;
let running: TestServices;
let env: Record<string, string>;

beforeAll(async () => {
  upstream = await startServer();
  running = await startServices();
  env = { DATABASE_URL: running.config.databaseUrl, HASH_PEPPER: testPepper, NODE_ENV: 'test', ISSUER: running.config.issuer, ...secrets };
});
afterAll(async () => {
  await running.stop();
  await upstream.stop();
  files.remove();
});

const connections = () => running.services.federation.connections;

/** Everything an apply of connections may change, as one string: equal before and after means nothing changed. */
async function snapshot(): Promise<string> {
  const db = openDatabase(env.DATABASE_URL!);
  try {
    const [rows, clients, events] = await Promise.all([
      db.prisma.connection.findMany({ orderBy: { name: 'asc' } }),
      db.prisma.client.findMany({ orderBy: { id: 'asc' } }),
      db.prisma.auditEvent.findMany({ orderBy: { id: 'asc' } }),
    ]);
    return JSON.stringify({ rows, clients, events });
  } finally {
    await db.close();
  }
}

const github = {
  name: 'github',
  preset: 'github',
  client_id: 'Iv1.github-client',
  client_secret: { from_env: 'GITHUB_SECRET' },
};
const partner = () => ({
  name: 'partner',
  type: 'oidc',
  display_name: 'Partner SSO',
  issuer: upstream.url,
  client_id: 'portcullis-at-partner',
  client_secret: { from_file: 'secrets/partner' },
  trust_email_verified: true,
  position: 2,
});
const wiki = {
  name: 'wiki',
  type: 'oauth2' as const,
  display_name: 'Wiki',
  authorization_url: 'https://wiki.example/oauth/authorize',
  token_url: 'https://wiki.example/oauth/token',
  userinfo_url: 'https://wiki.example/api/me',
  client_id: 'wiki-client',
  client_secret: { from_env: 'OTHER_SECRET' },
  scope: 'read',
  claim_mapping: { subject: 'id', email: 'mail' },
};

const apply = (file: string, ...flags: string[]) => cliJson<Applied>(['apply', '-f', file, ...flags], env);
const changeOf = (applied: Applied, id: string) => applied.changes.find((change) => change.kind === 'connection' && change.id === id);

describe('apply, apply again, change, export, prune', () => {
  let file: string;

  beforeAll(() => {
    files.write('secrets/partner', `${secrets.UPSTREAM_SECRET}\n`);
    file = files.write('connections.yaml', { portcullis: 1, connections: [github, partner()] });
  });

  test('apply creates each connection: the preset filled in, the OpenID Connect issuer discovered, the secrets sealed as read', async () => {
    const applied = await apply(file);
    expect(applied.summary).toMatchObject({ create: 2, update: 0, delete: 0 });
    expect(changeOf(applied, 'github')?.fields).toContainEqual({ field: 'client_secret', to: '(from env GITHUB_SECRET)' });
    expect(changeOf(applied, 'partner')?.fields).toContainEqual({ field: 'client_secret', to: '(from file secrets/partner)' });
    expect(JSON.stringify(applied)).not.toContain(secrets.GITHUB_SECRET);

    expect(await connections().get('github')).toMatchObject({
      type: 'oauth2',
      preset: 'github',
      display_name: 'GitHub',
      token_url: 'https://github.com/login/oauth/access_token',
      client_id: 'Iv1.github-client',
      claim_mapping: { subject: 'id', email: 'email', name: 'name' },
    });
    const made = await connections().get('partner');
    expect(made).toMatchObject({
      type: 'oidc',
      issuer: upstream.url,
      scope: 'openid email profile',
      trust_email_verified: true,
      position: 2,
    });
    expect((await connections().byId(made.id))?.clientSecret).toBe(secrets.UPSTREAM_SECRET);
    const row = await running.db.prisma.connection.findUniqueOrThrow({ where: { name: 'partner' } });
    expect(row.clientSecret).not.toContain(secrets.UPSTREAM_SECRET);
    const events = await running.db.prisma.auditEvent.findMany({ where: { type: 'connection.created' } });
    expect(events.map((event) => event.subject).sort()).toEqual(['github', 'partner']);
    expect(events.every((event) => event.actorType === 'admin' && event.actorId === null)).toBe(true);
  });

  test('a second apply changes nothing: no write, no audit event', async () => {
    const before = await snapshot();
    const again = await apply(file);
    expect(again).toMatchObject({ applied: false, summary: { create: 0, update: 0, delete: 0, unchanged: 2 } });
    expect(await snapshot()).toBe(before);
    expect((await cli(['apply', '-f', file], env)).stdout).toMatch(/^No changes: the server matches the file \(2 unchanged\)\.$/m);
  });

  test('a changed field is an update of that field alone; a different secret replaces the sealed one', async () => {
    const changed = files.write('changed.yaml', {
      portcullis: 1,
      connections: [{ ...github, display_name: 'GitHub (staff)', client_secret: { from_env: 'OTHER_SECRET' } }, partner()],
    });
    const dry = await apply(changed, '--dry-run');
    expect(changeOf(dry, 'github')).toEqual({
      action: 'update',
      kind: 'connection',
      id: 'github',
      fields: [
        { field: 'display_name', from: 'GitHub', to: 'GitHub (staff)' },
        { field: 'client_secret', from: '(set)', to: '(from env OTHER_SECRET)' },
      ],
    });
    expect((await connections().get('github')).display_name).toBe('GitHub');

    const applied = await apply(changed);
    expect(applied.summary).toMatchObject({ update: 1, unchanged: 1 });
    const now = await connections().get('github');
    expect(now.display_name).toBe('GitHub (staff)');
    expect((await connections().byId(now.id))?.clientSecret).toBe(secrets.OTHER_SECRET);
    const [event] = await running.db.prisma.auditEvent.findMany({ where: { type: 'connection.updated', subject: 'github' } });
    expect(event?.details).toEqual({ fields: ['display_name'], client_secret: 'replaced' });
    expect((await apply(changed)).summary).toMatchObject({ update: 0, unchanged: 2 });

    // Without a secret reference, an existing connection keeps the secret it has.
    const noSecret = files.write('no-secret.yaml', {
      portcullis: 1,
      connections: [{ ...github, display_name: 'GitHub (staff)', client_secret: undefined, enabled: false }, partner()],
    });
    expect(changeOf(await apply(noSecret), 'github')?.fields).toEqual([{ field: 'enabled', from: true, to: false }]);
    expect((await connections().byId(now.id))?.clientSecret).toBe(secrets.OTHER_SECRET);
  });

  test('export writes the connections without a secret, and what it wrote applies back unchanged', async () => {
    const exported = await cli(['export'], env);
    expect(exported.code).toBe(0);
    for (const secret of Object.values(secrets)) expect(exported.stdout).not.toContain(secret);
    const document = parse(exported.stdout) as { connections: Record<string, unknown>[] };
    expect(document.connections).toEqual([
      // The preset's values are left out: what the file reads is what was chosen.
      { name: 'github', preset: 'github', display_name: 'GitHub (staff)', client_id: 'Iv1.github-client', enabled: false },
      {
        name: 'partner',
        type: 'oidc',
        display_name: 'Partner SSO',
        issuer: upstream.url,
        client_id: 'portcullis-at-partner',
        trust_email_verified: true,
        position: 2,
      },
    ]);
    expect(document.connections.some((entry) => 'client_secret' in entry)).toBe(false);
    const before = await snapshot();
    const back = await apply(files.write('exported.yaml', exported.stdout));
    expect(back.summary).toMatchObject({ create: 0, update: 0, unchanged: 2 });
    expect(await snapshot()).toBe(before);
  });

  test('a connection the file leaves out is left alone, and deleted with --prune', async () => {
    await connections().create({ ...wiki, client_secret: 'wiki-secret' }, { type: 'admin', id: 'admin-client' });
    const kept = await apply(file, '--dry-run');
    expect(changeOf(kept, 'wiki')).toEqual({ action: 'not_in_file', kind: 'connection', id: 'wiki' });
    expect((await cli(['apply', '-f', file, '--dry-run'], env)).stdout).toMatch(/^ {2}connection wiki: not in the file, left alone/m);
    const pruned = await apply(file, '--prune');
    expect(changeOf(pruned, 'wiki')).toEqual({ action: 'delete', kind: 'connection', id: 'wiki' });
    expect((await connections().list()).map((connection) => connection.name)).toEqual(['github', 'partner']);
  });
});

describe('an OAuth 2.0 connection with its own mapping, and a client signed in to through it', () => {
  test('created, unchanged the second time; its claim mapping and scope compare as stored; a client names it', async () => {
    const file = files.write('wiki.yaml', {
      portcullis: 1,
      connections: [wiki],
      clients: [
        {
          client_id: 'wiki-app',
          name: 'Wiki app',
          public: true,
          grant_types: ['authorization_code'],
          redirect_uris: ['http://localhost:8080/cb'],
          login_connection: 'wiki',
        },
      ],
    });
    expect((await apply(file)).summary).toMatchObject({ create: 2 });
    expect((await connections().get('wiki')).claim_mapping).toEqual({
      subject: 'id',
      email: 'mail',
      name: 'name',
      email_verified: 'email_verified',
    });
    expect((await running.services.clients.get('wiki-app')).login_connection).toBe('wiki');
    expect((await apply(file)).summary).toMatchObject({ create: 0, update: 0, unchanged: 2 });
    const exported = parse((await cli(['export'], env)).stdout) as {
      clients: Record<string, unknown>[];
      connections: Record<string, unknown>[];
    };
    expect(exported.clients.find((client) => client.client_id === 'wiki-app')?.login_connection).toBe('wiki');
    expect(exported.connections.find((connection) => connection.name === 'wiki')).toEqual({
      name: 'wiki',
      type: 'oauth2',
      display_name: 'Wiki',
      authorization_url: wiki.authorization_url,
      token_url: wiki.token_url,
      userinfo_url: wiki.userinfo_url,
      client_id: 'wiki-client',
      scope: 'read',
      claim_mapping: { subject: 'id', email: 'mail' },
    });
    const remapped = files.write('wiki-remapped.yaml', {
      portcullis: 1,
      connections: [{ ...wiki, claim_mapping: { subject: 'id', email: 'email' } }],
    });
    const applied = await apply(remapped);
    expect(changeOf(applied, 'wiki')?.fields).toEqual([
      {
        field: 'claim_mapping',
        from: { subject: 'id', email: 'mail', name: 'name', email_verified: 'email_verified' },
        to: { subject: 'id', email: 'email', name: 'name', email_verified: 'email_verified' },
      },
    ]);
    expect((await connections().get('wiki')).claim_mapping.email).toBe('email');
  });
});

describe('a bad entry is refused before any change, naming its line and field', () => {
  const head = [
    'portcullis: 1',
    'connections:',
    '  - name: fine',
    '    preset: github',
    '    client_id: c',
    '    client_secret: { from_env: GITHUB_SECRET }',
  ];
  const entry = (...lines: string[]) => [...head, ...lines].join('\n') + '\n';

  test.each([
    [
      'a name that is not one',
      entry('  - name: Not A Name', '    type: oauth2', '    client_id: c'),
      7,
      'connections[1].name',
      /must be 1 to 63 lowercase/,
    ],
    [
      'an unknown field',
      entry('  - name: other', '    preset: google', '    client_id: c', '    colour: red'),
      10,
      'connections[1].colour',
      /is not a field of a connection/,
    ],
    [
      'an OAuth 2.0 one without its token endpoint',
      entry(
        '  - name: other',
        '    type: oauth2',
        '    display_name: Other',
        '    client_id: c',
        '    client_secret: { from_env: GITHUB_SECRET }',
        '    authorization_url: https://other.example/authorize',
        '    userinfo_url: https://other.example/me',
      ),
      7,
      'connections[1].token_url',
      /is required for an OAuth 2.0 connection/,
    ],
    [
      'an OpenID Connect one without openid',
      entry(
        '  - name: other',
        '    type: oidc',
        '    display_name: Other',
        '    issuer: https://other.example',
        '    client_id: c',
        '    scope: email',
      ),
      12,
      'connections[1].scope',
      /must include openid/,
    ],
    [
      'a new one without a secret',
      entry('  - name: other', '    preset: google', '    client_id: c'),
      7,
      'connections[1].client_secret',
      /a new connection needs client_secret/,
    ],
    [
      'a secret reference to nothing',
      entry('  - name: other', '    preset: google', '    client_id: c', '    client_secret: { from_env: NOT_SET }'),
      10,
      'connections[1].client_secret',
      /NOT_SET is not set/,
    ],
    [
      'a name given twice',
      entry('  - name: fine', '    preset: google', '    client_id: c'),
      7,
      'connections[1].name',
      /fine is named twice \(also at line 3\)/,
    ],
    [
      'a client naming a connection there is not',
      [
        ...head,
        'clients:',
        '  - client_id: app',
        '    name: App',
        '    public: true',
        '    grant_types: [authorization_code]',
        '    redirect_uris: [http://localhost/cb]',
        '    login_connection: nowhere',
        '',
      ].join('\n'),
      13,
      'clients[0].login_connection',
      /no connection is named nowhere \(in the file or on the server\)/,
    ],
  ])('%s', async (_case, text, line, field, reason) => {
    const file = files.write('bad.yaml', text);
    const before = await snapshot();
    const human = await cli(['apply', '-f', file], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    const prefix = `portcullis: ${file}:${line}: ${field}: `;
    expect(human.stderr.startsWith(prefix)).toBe(true);
    expect(human.stderr.slice(prefix.length)).toMatch(reason);
    const json = await cli(['apply', '-f', file, '--json'], env);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'invalid_input', field });
    expect(await snapshot()).toBe(before);
  });

  test("an existing connection's type cannot change: refused naming type", async () => {
    await connections().create(
      { name: 'typed', type: 'oauth2', display_name: 'Typed', ...endpoints('typed'), client_id: 'c', client_secret: 's' },
      { type: 'admin', id: 'admin-client' },
    );
    const file = files.write(
      'retype.yaml',
      [
        'portcullis: 1',
        'connections:',
        '  - name: typed',
        '    type: oidc',
        `    issuer: ${upstream.url}`,
        '    display_name: Typed',
        '    client_id: c',
        '',
      ].join('\n'),
    );
    const result = await cli(['apply', '-f', file], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(
      new RegExp(`^portcullis: ${file}:4: connections\\[0\\]\\.type: cannot change on an existing connection \\(oauth2 to oidc\\)`),
    );
  });

  test('an issuer whose discovery document cannot be read is refused when saved, naming the entry, with nothing of the rest undone', async () => {
    const file = files.write(
      'unreachable.yaml',
      ['portcullis: 1', 'connections:', '  - name: gone', '    type: oidc', '    display_name: Gone', '    issuer: http://127.0.0.1:9', '    client_id: c',
        '    client_secret: { from_env: GITHUB_SECRET }', ''].join('\n'), // prettier-ignore
    );
    const result = await cli(['apply', '-f', file, '--json'], env);
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stderr)).toMatchObject({ error: 'invalid_input', field: 'connections[0].issuer' });
    expect((await cli(['apply', '-f', file], env)).stderr).toMatch(
      new RegExp(`${file}:6: connections\\[0\\]\\.issuer: its discovery document could not be read`),
    );
    expect((await connections().list()).map((connection) => connection.name)).not.toContain('gone');
  });
});

function endpoints(name: string) {
  return {
    authorization_url: `https://${name}.example/authorize`,
    token_url: `https://${name}.example/token`,
    userinfo_url: `https://${name}.example/me`,
  };
}
