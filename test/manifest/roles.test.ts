// Roles, the organization template's roles, an API's rbac flags and a client's organization in
// configuration as code, through the real CLI on a real database: apply creates them (a
// permission may name an API the same file creates), a second apply changes nothing, a changed
// permission list is an update of that field, --prune deletes what the file leaves out, export
// applies back to an empty database as the same document, who holds a role is never in the file,
// and a bad permission is refused before any change with its line and field.
import { parse } from 'yaml';
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { openDatabase } from '../../src/db/index.ts';
import { parseSource, planManifest, type ManifestServices } from '../../src/manifest/index.ts';
import type { ResourceDefinition } from '../../src/resources/index.ts';
import { cli, cliJson } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { testPepper } from '../support/server.ts';
import { startServices, type TestServices } from '../support/services.ts';
import { manifestFolder } from './support.ts';

type Applied = {
  dry_run: boolean;
  applied: boolean;
  summary: Record<string, number>;
  changes: { action: string; kind: string; id: string; fields?: { field: string; from?: unknown; to?: unknown }[] }[];
};
type Document = {
  resources: Record<string, unknown>[];
  roles: Record<string, unknown>[];
  organization_roles: Record<string, unknown>[];
  clients: Record<string, unknown>[];
};

const INVOICES = 'https://invoices.example';
const ADMIN = { type: 'admin', id: 'admin-client' } as const;
const files = manifestFolder();
const databases: TestDatabase[] = [];
let running: TestServices;
let env: Record<string, string>;

beforeAll(async () => {
  running = await startServices();
  env = { DATABASE_URL: running.config.databaseUrl, HASH_PEPPER: testPepper, NODE_ENV: 'test', ISSUER: running.config.issuer };
});
afterAll(async () => {
  await running.stop();
  for (const database of databases) await database.drop();
  files.remove();
});

const apply = (file: string, ...flags: string[]) => cliJson<Applied>(['apply', '-f', file, ...flags], env);
const changeOf = (applied: Applied, kind: string, id: string) => applied.changes.find((change) => change.kind === kind && change.id === id);

/** Everything an apply of roles may change, as one string: equal before and after means nothing changed. */
async function snapshot(databaseUrl = env.DATABASE_URL!): Promise<string> {
  const db = openDatabase(databaseUrl);
  try {
    const rows = await Promise.all([
      db.prisma.apiResource.findMany({ orderBy: { audience: 'asc' } }),
      db.prisma.role.findMany({ orderBy: { name: 'asc' }, include: { permissions: true } }),
      db.prisma.userRole.findMany({ orderBy: { userId: 'asc' } }),
      db.prisma.organizationRole.findMany({ orderBy: { name: 'asc' }, include: { permissions: true } }),
      db.prisma.client.findMany({ orderBy: { id: 'asc' } }),
      db.prisma.auditEvent.findMany({ orderBy: { id: 'asc' } }),
    ]);
    return JSON.stringify(rows);
  } finally {
    await db.close();
  }
}

const invoicesApi = {
  audience: INVOICES,
  name: 'Invoices',
  scope: 'invoices:read invoices:write invoices:approve',
  rbac: true,
  roles_claim: true,
};
const accountant = {
  name: 'accountant',
  description: 'Reads and writes invoices',
  // Unsorted and with a repeat: compared as the service stores it (each once, sorted).
  permissions: [`${INVOICES}:invoices:write`, `${INVOICES}:invoices:read`, `${INVOICES}:invoices:read`],
};
const member = { name: 'member', permissions: [`${INVOICES}:invoices:read`], default: true };
const owner = {
  name: 'owner',
  description: 'Runs the organization',
  permissions: [`${INVOICES}:invoices:read`, `${INVOICES}:invoices:approve`],
  manage_keys: true,
};
const viewer = { name: 'viewer', permissions: [`${INVOICES}:invoices:read`] };
const document = (changes: Partial<Record<'roles' | 'organization_roles', unknown[]>> = {}) => ({
  portcullis: 1,
  resources: [invoicesApi],
  roles: [accountant, member],
  organization_roles: [owner, viewer],
  ...changes,
});

describe('apply, apply again, change, export, prune', () => {
  let file: string;
  beforeAll(() => {
    file = files.write('roles.yaml', document());
  });

  test('apply creates the API first, then the roles and organization roles whose permissions name it', async () => {
    const applied = await apply(file);
    expect(applied.summary).toMatchObject({ create: 5, update: 0, delete: 0 });
    expect(applied.changes.map((change) => `${change.action} ${change.kind} ${change.id}`)).toEqual([
      `create resource ${INVOICES}`,
      'create role accountant',
      'create role member',
      'create organization_role owner',
      'create organization_role viewer',
    ]);
    expect(changeOf(applied, 'resource', INVOICES)?.fields).toEqual(
      expect.arrayContaining([
        { field: 'rbac', to: true },
        { field: 'roles_claim', to: true },
      ]),
    );
    expect(changeOf(applied, 'role', 'accountant')?.fields).toEqual([
      { field: 'description', to: 'Reads and writes invoices' },
      { field: 'permissions', to: [`${INVOICES}:invoices:read`, `${INVOICES}:invoices:write`] },
    ]);

    expect(await running.services.roles.definitions()).toEqual([
      {
        name: 'accountant',
        description: 'Reads and writes invoices',
        permissions: [`${INVOICES}:invoices:read`, `${INVOICES}:invoices:write`],
        default: false,
      },
      { name: 'member', permissions: [`${INVOICES}:invoices:read`], default: true },
    ]);
    expect(await running.services.organizations.roleDefinitions()).toEqual([
      {
        name: 'owner',
        description: 'Runs the organization',
        permissions: [`${INVOICES}:invoices:approve`, `${INVOICES}:invoices:read`],
        manage_keys: true,
      },
      { name: 'viewer', permissions: [`${INVOICES}:invoices:read`], manage_keys: false },
    ]);
    expect(await running.services.resources.findByAudience(INVOICES)).toMatchObject({ rbac: true, roles_claim: true });
    const events = await running.db.prisma.auditEvent.findMany({ orderBy: { at: 'asc' } });
    expect(events.map((event) => event.type)).toEqual([
      'resource.created',
      'role.created',
      'role.created',
      'organization_role.created',
      'organization_role.created',
    ]);
  });

  test('a second apply changes nothing: no write, no audit event', async () => {
    const before = await snapshot();
    const again = await apply(file);
    expect(again).toMatchObject({ applied: false, summary: { create: 0, update: 0, delete: 0, unchanged: 5 } });
    expect(await snapshot()).toBe(before);
    expect((await cli(['apply', '-f', file], env)).stdout).toBe('No changes: the server matches the file (5 unchanged).\n');
  });

  test('a changed permission list is an update of that field, the list replacing the one before', async () => {
    const changed = files.write(
      'roles-changed.yaml',
      document({
        roles: [
          { ...accountant, description: undefined, permissions: [`${INVOICES}:invoices:read`, `${INVOICES}:invoices:approve`] },
          member,
        ],
        organization_roles: [owner, { ...viewer, manage_keys: true }],
      }),
    );
    const before = await snapshot();
    const dry = await apply(changed, '--dry-run');
    expect(await snapshot()).toBe(before);
    expect(changeOf(dry, 'role', 'accountant')).toEqual({
      action: 'update',
      kind: 'role',
      id: 'accountant',
      fields: [
        { field: 'description', from: 'Reads and writes invoices', to: null },
        {
          field: 'permissions',
          from: [`${INVOICES}:invoices:read`, `${INVOICES}:invoices:write`],
          to: [`${INVOICES}:invoices:approve`, `${INVOICES}:invoices:read`],
        },
      ],
    });
    expect(changeOf(dry, 'organization_role', 'viewer')?.fields).toEqual([{ field: 'manage_keys', from: false, to: true }]);
    const human = await cli(['apply', '-f', changed, '--dry-run'], env);
    expect(human.stdout).toContain(
      `~ role accountant\n    description: "Reads and writes invoices" → (none)\n    permissions: ["${INVOICES}:invoices:read","${INVOICES}:invoices:write"] → ["${INVOICES}:invoices:approve","${INVOICES}:invoices:read"]\n`,
    );

    const count = await running.db.prisma.auditEvent.count();
    expect((await apply(changed)).summary).toMatchObject({ update: 2, unchanged: 3 });
    const events = (await running.db.prisma.auditEvent.findMany({ orderBy: { at: 'asc' } })).slice(count);
    expect(events.map((event) => `${event.type} ${event.subject}`)).toEqual([
      'role.updated accountant',
      'organization_role.updated viewer',
    ]);
    expect(await running.services.roles.show('accountant')).toMatchObject({
      description: null,
      permissions: [`${INVOICES}:invoices:approve`, `${INVOICES}:invoices:read`],
    });
    expect((await running.services.organizations.showRole('viewer')).manage_keys).toBe(true);
    expect((await apply(changed)).summary).toMatchObject({ update: 0, unchanged: 5 });
    // Back to the first file: the same fields the other way.
    expect((await apply(file)).summary).toMatchObject({ update: 2, unchanged: 3 });
  });

  test('who holds a role is not in the file: an apply keeps the assignments, and export writes none', async () => {
    const person = await running.services.users.create({ email: 'ada@example.com', password: 'a long enough passphrase' }, CLI_ACTOR);
    await running.services.roles.assign('accountant', { user_id: person.id }, ADMIN);
    expect((await apply(file)).summary).toMatchObject({ create: 0, update: 0, unchanged: 5 });
    expect(await running.services.roles.namesOf({ type: 'user', id: person.id })).toContain('accountant');
    const exported = (await cli(['export'], env)).stdout;
    expect(exported).not.toContain(person.id);
    expect(exported).not.toContain('ada@example.com');
  });

  test('export writes the roles, the organization roles and the flags, and applies back to an empty database as the same document', async () => {
    const exported = await cli(['export'], env);
    expect(exported.code).toBe(0);
    const written = parse(exported.stdout) as Document;
    expect(written.resources).toEqual([{ ...invoicesApi, ttl: 900 }]);
    expect(written.roles).toEqual([
      {
        name: 'accountant',
        description: 'Reads and writes invoices',
        permissions: [`${INVOICES}:invoices:read`, `${INVOICES}:invoices:write`],
      },
      // A default left out: no `default: false`, no empty permission list.
      { name: 'member', permissions: [`${INVOICES}:invoices:read`], default: true },
    ]);
    expect(written.organization_roles).toEqual([
      { ...owner, permissions: [`${INVOICES}:invoices:approve`, `${INVOICES}:invoices:read`] },
      { name: 'viewer', permissions: [`${INVOICES}:invoices:read`] },
    ]);

    const before = await snapshot();
    expect((await apply(files.write('exported.yaml', exported.stdout))).summary).toMatchObject({ create: 0, update: 0, unchanged: 5 });
    expect(await snapshot()).toBe(before);

    const database = await createTestDatabase();
    databases.push(database);
    const target = { ...env, DATABASE_URL: database.url };
    const made = await cliJson<Applied>(['apply', '-f', files.write('exported.yaml', exported.stdout)], target);
    expect(made.summary).toMatchObject({ create: 5, update: 0, delete: 0 });
    expect((await cli(['export'], target)).stdout).toBe(exported.stdout);
  });

  test('a role the file leaves out is left alone and listed; --prune deletes it, and its holders lose it', async () => {
    await running.services.roles.create({ name: 'stray', permissions: [`${INVOICES}:invoices:read`] }, ADMIN);
    await running.services.organizations.createRole({ name: 'stray-org' }, ADMIN);
    const person = await running.services.users.create({ email: 'grace@example.com', password: 'a long enough passphrase' }, CLI_ACTOR);
    await running.services.roles.assign('stray', { user_id: person.id }, ADMIN);

    const kept = await apply(file);
    expect(changeOf(kept, 'role', 'stray')).toEqual({ action: 'not_in_file', kind: 'role', id: 'stray' });
    expect(changeOf(kept, 'organization_role', 'stray-org')).toEqual({ action: 'not_in_file', kind: 'organization_role', id: 'stray-org' });
    expect((await cli(['apply', '-f', file], env)).stdout).toContain('  role stray: not in the file, left alone (--prune deletes it)\n');

    const count = await running.db.prisma.auditEvent.count();
    const pruned = await apply(file, '--prune');
    expect(pruned.summary).toMatchObject({ delete: 2, unchanged: 5 });
    expect(pruned.changes.filter((change) => change.action === 'delete')).toEqual([
      { action: 'delete', kind: 'role', id: 'stray' },
      { action: 'delete', kind: 'organization_role', id: 'stray-org' },
    ]);
    const events = (await running.db.prisma.auditEvent.findMany({ orderBy: { at: 'asc' } })).slice(count);
    expect(events.map((event) => event.type)).toEqual(['role.deleted', 'organization_role.deleted']);
    expect((await running.services.roles.definitions()).map((role) => role.name)).toEqual(['accountant', 'member']);
    expect((await running.services.organizations.roleDefinitions()).map((role) => role.name)).toEqual(['owner', 'viewer']);
    // `member` is given to every new account; `stray` went with its deletion.
    expect(await running.services.roles.namesOf({ type: 'user', id: person.id })).toEqual(['member']);
  });
});

describe("an API's rbac flags and a client's organization", () => {
  test('rbac and roles_claim are compared field by field, and export writes them only when on', async () => {
    const audience = 'https://flags.example';
    const api = { audience, scope: 'flags:read', rbac: true };
    const file = files.write('flags.yaml', { portcullis: 1, resources: [api] });
    expect((await apply(file)).summary).toMatchObject({ create: 1 });
    expect((await apply(file)).summary).toMatchObject({ create: 0, update: 0 });

    const off = await apply(files.write('flags-off.yaml', { portcullis: 1, resources: [{ ...api, rbac: false, roles_claim: true }] }));
    expect(changeOf(off, 'resource', audience)?.fields).toEqual([
      { field: 'rbac', from: true, to: false },
      { field: 'roles_claim', from: false, to: true },
    ]);
    expect(await running.services.resources.findByAudience(audience)).toMatchObject({ rbac: false, roles_claim: true });
    const exported = parse((await cli(['export'], env)).stdout) as Document;
    expect(exported.resources.find((resource) => resource.audience === audience)).toEqual({
      audience,
      scope: 'flags:read',
      ttl: 900,
      roles_claim: true,
    });
  });

  test("a client's organization_id is the server's organization: applied, compared, exported; one there is not is refused", async () => {
    const organization = await running.services.organizations.create({ name: 'Acme' }, ADMIN);
    const client = {
      client_id: 'acme-sync',
      name: 'Acme sync',
      public: true,
      grant_types: ['authorization_code'],
      redirect_uris: ['http://localhost:8080/cb'],
      organization_id: organization.id,
    };
    const file = files.write('org-client.yaml', { portcullis: 1, clients: [client] });
    expect((await apply(file)).summary).toMatchObject({ create: 1 });
    expect((await running.services.clients.get('acme-sync')).organization_id).toBe(organization.id);
    expect((await apply(file)).summary).toMatchObject({ create: 0, update: 0 });
    const exported = parse((await cli(['export'], env)).stdout) as Document;
    expect(exported.clients.find((entry) => entry.client_id === 'acme-sync')?.organization_id).toBe(organization.id);

    const other = await running.services.organizations.create({ name: 'Globex' }, ADMIN);
    const moved = await apply(files.write('org-client-moved.yaml', { portcullis: 1, clients: [{ ...client, organization_id: other.id }] }));
    expect(changeOf(moved, 'client', 'acme-sync')?.fields).toEqual([{ field: 'organization_id', from: organization.id, to: other.id }]);

    const before = await snapshot();
    const missing = files.write('org-client-missing.yaml', { portcullis: 1, clients: [{ ...client, organization_id: 'no-such-org' }] });
    const refused = await cli(['apply', '-f', missing], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      new RegExp(`^portcullis: ${missing}:10: clients\\[0\\]\\.organization_id: no organization has the id no-such-org on this server`),
    );
    expect(await snapshot()).toBe(before);
  });
});

describe('a bad entry is refused before any change, naming its line and field', () => {
  const head = ['portcullis: 1', 'resources:', `  - audience: ${INVOICES}`, '    scope: invoices:read invoices:write', 'roles:'];
  const text = (...lines: string[]) => [...head, ...lines].join('\n') + '\n';

  test.each([
    [
      'a permission naming no API',
      text('  - name: clerk', '    permissions:', `      - ${INVOICES}:invoices:read`, '      - https://nowhere.example:read'),
      9,
      'roles[0].permissions[1]',
      /https:\/\/nowhere\.example:read does not begin with the audience of a registered API and a colon \(in the file or on the server\)/,
    ],
    [
      'a permission naming a scope the API does not accept',
      text('  - name: clerk', `    permissions: [${INVOICES}:invoices:read, ${INVOICES}:invoices:delete]`),
      7,
      'roles[0].permissions[1]',
      /invoices:delete is not a scope of https:\/\/invoices\.example/,
    ],
    [
      'a permission naming a scope the same file takes away from the API',
      text('  - name: clerk', '    permissions:', `      - ${INVOICES}:invoices:approve`),
      8,
      'roles[0].permissions[0]',
      /invoices:approve is not a scope of https:\/\/invoices\.example/,
    ],
    [
      "an organization role's bad permission",
      [
        ...head.slice(0, -1),
        'organization_roles:',
        '  - name: boss',
        '    manage_keys: true',
        '    permissions:',
        `      - "${INVOICES}:"`,
      ].join('\n') + '\n',
      9,
      'organization_roles[0].permissions[0]',
      /\(empty\) is not a scope of https:\/\/invoices\.example/,
    ],
    ['a name that is not one', text('  - name: two words'), 6, 'roles[0].name', /must be letters, digits/],
    [
      'an unknown field (who holds it is not configuration)',
      text('  - name: clerk', '    users: [ada@example.com]'),
      7,
      'roles[0].users',
      /is not a field of a role/,
    ],
    ['a name given twice', text('  - name: clerk', '  - name: clerk'), 7, 'roles[1].name', /clerk is named twice \(also at line 6\)/],
  ])('%s', async (_case, content, line, field, reason) => {
    const file = files.write('bad.yaml', content);
    const before = await snapshot();
    const human = await cli(['apply', '-f', file], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toBe('');
    const prefix = `portcullis: ${file}:${line}: ${field}: `;
    expect(human.stderr.slice(0, prefix.length)).toBe(prefix);
    expect(human.stderr.slice(prefix.length)).toMatch(reason);
    const json = await cli(['apply', '-f', file, '--json'], env);
    expect(JSON.parse(json.stderr)).toMatchObject({ error: 'invalid_input', field });
    expect(await snapshot()).toBe(before);
  });

  test('with --prune, a permission may only name an API the file keeps', async () => {
    const file = files.write('prune-bad.yaml', text('  - name: clerk', `    permissions: [https://flags.example:flags:read]`));
    const refused = await cli(['apply', '-f', file, '--prune', '--json'], env);
    expect(refused.code).toBe(1);
    const error = JSON.parse(refused.stderr) as { field: string; error_description: string };
    expect(error.field).toBe('roles[0].permissions[0]');
    expect(error.error_description).toMatch(/does not begin with the audience of a registered API and a colon \(in the file\)$/);
    expect((await running.services.roles.definitions()).map((role) => role.name)).not.toContain('clerk');
  });
});

describe('the order of the changes', () => {
  test('APIs before the roles that name them; role deletions before the deletion of the APIs', async () => {
    const calls: string[] = [];
    const record = (name: string) => async () => {
      calls.push(name);
      return undefined as never;
    };
    const oldApi: ResourceDefinition = { audience: 'https://old.example', scope: 'old', ttl: 900, personal_key_scope: '' };
    const services: ManifestServices = {
      resources: {
        definitions: async () => [oldApi],
        create: async (input) => record(`resources.create ${input.audience}`)(),
        replace: async (input) => record(`resources.replace ${input.audience}`)(),
        delete: async (selector) => record(`resources.delete ${'audience' in selector ? selector.audience : selector.id}`)(),
        deletionBlocker: async () => undefined,
      },
      clients: {
        definitions: async () => [],
        create: async () => record('clients.create')(),
        replace: async () => record('clients.replace')(),
        secretMatches: async () => true,
        setSecret: async () => record('clients.setSecret')(),
        delete: async () => record('clients.delete')(),
      },
      connections: {
        list: async () => [],
        create: async () => record('connections.create')(),
        update: async () => record('connections.update')(),
        delete: async () => record('connections.delete')(),
        byId: async () => undefined,
      },
      roles: {
        definitions: async () => [{ name: 'old', permissions: ['https://old.example:old'], default: false }],
        create: async (input) => record(`roles.create ${input.name} ${input.permissions?.join(',')}`)(),
        update: async (name) => record(`roles.update ${name}`)(),
        delete: async (name) => record(`roles.delete ${name}`)(),
      },
      organizations: {
        roleDefinitions: async () => [],
        createRole: async (input) => record(`organizations.createRole ${input.name}`)(),
        updateRole: async (name) => record(`organizations.updateRole ${name}`)(),
        deleteRole: async (name) => record(`organizations.deleteRole ${name}`)(),
        findById: async () => undefined,
      },
    };
    const yaml = [
      'portcullis: 1',
      'organization_roles:',
      '  - name: admin',
      '    permissions: [https://new.example:new]',
      'roles:',
      '  - name: reader',
      '    permissions: [https://new.example:new]',
      'resources:',
      '  - audience: https://new.example',
      '    scope: new',
      '',
    ].join('\n');
    const own = { audience: 'https://id.example/admin', scopes: ['admin:read'] };
    const plan = await planManifest(parseSource('m.yaml', yaml, '/'), services, { prune: true, env: {}, own });
    await plan.apply(CLI_ACTOR);
    expect(calls).toEqual([
      'resources.create https://new.example',
      'roles.create reader https://new.example:new',
      'organizations.createRole admin',
      'roles.delete old',
      'resources.delete https://old.example',
    ]);
  });
});
