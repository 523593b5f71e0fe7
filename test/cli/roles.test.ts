// `portcullis role …` and `resource --rbac`, run as an operator types them, against a real
// database: what each prints (parsed from --json), what is stored, and how a bad value is refused
// (the field the role service names, and the flag it came from).
import { CLI_ACTOR } from '../../src/audit/index.ts';
import { cli, cliJson } from '../support/cli.ts';
import { testPepper } from '../support/server.ts';
import { startServices, type TestServices } from '../support/services.ts';

const ORDERS = 'https://orders.example.com';
const REPORTS = 'https://reports.example.com';

let running: TestServices;
let env: Record<string, string>;
let ada: string;
let clientId: string;

interface RoleView {
  id: string;
  name: string;
  description: string | null;
  default: boolean;
  permissions: string[];
  created_at: string;
  users?: number;
  clients?: number;
}

interface ResourceView {
  audience: string;
  rbac: boolean;
  roles_claim: boolean;
}

beforeAll(async () => {
  running = await startServices();
  env = { DATABASE_URL: running.config.databaseUrl, HASH_PEPPER: testPepper, NODE_ENV: 'test', ISSUER: 'http://127.0.0.1:3000' };
  await cliJson(['resource', 'create', '--audience', ORDERS, '--scope', 'orders:read orders:write', '--rbac', '--roles-claim'], env);
  await cliJson(['resource', 'create', '--audience', REPORTS, '--scope', 'reports:read'], env);
  ({ id: ada } = await running.services.users.create({ email: 'ada@example.com', password: 'a long passphrase' }, CLI_ACTOR));
  ({ client_id: clientId } = await cliJson<{ client_id: string }>(
    ['client', 'create', '--name', 'svc', '--grant', 'client_credentials'],
    env,
  ));
});
afterAll(() => running.stop());

/** Runs a command that must fail; returns its --json error and its human message. */
async function refused(args: string[]): Promise<{ body: Record<string, unknown>; message: string }> {
  const json = await cli([...args, '--json'], env);
  expect({ code: json.code, stdout: json.stdout }).toEqual({ code: 1, stdout: '' });
  const human = await cli(args, env);
  expect(human.code).toBe(1);
  return { body: JSON.parse(json.stderr) as Record<string, unknown>, message: human.stderr };
}

describe('resource --rbac and --roles-claim', () => {
  test('create stores them and every listing shows them; update turns them off and on', async () => {
    const listed = await cliJson<ResourceView[]>(['resource', 'list'], env);
    expect(listed.find((resource) => resource.audience === ORDERS)).toMatchObject({ rbac: true, roles_claim: true });
    expect(listed.find((resource) => resource.audience === REPORTS)).toMatchObject({ rbac: false, roles_claim: false });
    expect(await running.db.prisma.apiResource.findUnique({ where: { audience: ORDERS } })).toMatchObject({ rbac: true, rolesClaim: true });

    const off = await cliJson<ResourceView>(['resource', 'update', '--audience', REPORTS, '--rbac', '--no-roles-claim'], env);
    expect(off).toMatchObject({ rbac: true, roles_claim: false });
    const back = await cliJson<ResourceView>(['resource', 'update', '--audience', REPORTS, '--no-rbac'], env);
    // What was not given stays.
    expect(back).toMatchObject({ rbac: false, roles_claim: false });
    expect(await running.db.prisma.apiResource.findUnique({ where: { audience: REPORTS } })).toMatchObject({ rbac: false });

    const human = await cli(['resource', 'update', '--audience', ORDERS, '--roles-claim'], env);
    expect(human.stdout).toMatch(/^rbac:\s+on$/m);
    expect(human.stdout).toMatch(/^roles claim:\s+on$/m);
  });
});

describe('role create, list, show, update, delete', () => {
  test('a round trip, each step read back as JSON', async () => {
    const created = await cliJson<RoleView>(
      [
        'role',
        'create',
        'clerk',
        '--permission',
        `${ORDERS}:orders:write`,
        '--permission',
        `${ORDERS}:orders:read`,
        '--description',
        'Takes orders',
        '--default',
      ],
      env,
    );
    expect(created).toMatchObject({
      name: 'clerk',
      description: 'Takes orders',
      default: true,
      // Sorted, in the wire's form.
      permissions: [`${ORDERS}:orders:read`, `${ORDERS}:orders:write`],
    });

    const listed = await cliJson<RoleView[]>(['role', 'list'], env);
    expect(listed.find((role) => role.name === 'clerk')).toEqual(created);
    expect((await cli(['role', 'list'], env)).stdout).toMatch(/^clerk\s+true\s+https:\/\/orders\.example\.com:orders:read /m);

    expect(await cliJson<RoleView>(['role', 'show', 'clerk'], env)).toEqual({ ...created, users: 0, clients: 0 });

    // A list given replaces the one before; what is not given stays.
    const narrowed = await cliJson<RoleView>(['role', 'update', 'clerk', '--permission', `${REPORTS}:reports:read`, '--no-default'], env);
    expect(narrowed).toMatchObject({ description: 'Takes orders', default: false, permissions: [`${REPORTS}:reports:read`] });
    const cleared = await cliJson<RoleView>(['role', 'update', 'clerk', '--no-permissions', '--description', ''], env);
    expect(cleared).toMatchObject({ description: null, default: false, permissions: [] });
    expect(await running.db.prisma.rolePermission.count({ where: { roleId: created.id } })).toBe(0);

    expect(await cliJson(['role', 'delete', 'clerk'], env)).toEqual({ name: 'clerk', deleted: true });
    const gone = await refused(['role', 'show', 'clerk']);
    expect(gone.body).toMatchObject({ error: 'not_found' });
    expect(gone.message).toBe('portcullis: role clerk not found\n');
  });

  test('the same name twice is a conflict', async () => {
    await cliJson(['role', 'create', 'twice'], env);
    expect((await refused(['role', 'create', 'twice'])).body).toMatchObject({ error: 'conflict' });
  });

  test('a permission naming no registered API is refused, naming the field and --permission; nothing is made', async () => {
    const noApi = await refused([
      'role',
      'create',
      'ghost',
      '--permission',
      `${ORDERS}:orders:read`,
      '--permission',
      'https://nowhere.example.com:read',
    ]);
    expect(noApi.body).toMatchObject({ error: 'invalid_input', field: 'permissions[1]' });
    expect(noApi.message).toBe(
      'portcullis: permissions[1] (--permission): https://nowhere.example.com:read does not begin with the audience of a registered API and a colon\n',
    );
    const noScope = await refused(['role', 'create', 'ghost', '--permission', `${ORDERS}:orders:delete`]);
    expect(noScope.body).toMatchObject({ field: 'permissions[0]' });
    expect(noScope.message).toMatch(/^portcullis: permissions\[0\] \(--permission\): orders:delete is not a scope of https:\/\/orders/);
    expect(await running.db.prisma.role.findUnique({ where: { name: 'ghost' } })).toBeNull();

    await cliJson(['role', 'create', 'keeper', '--permission', `${ORDERS}:orders:read`], env);
    expect((await refused(['role', 'update', 'keeper', '--permission', 'urn:nothing:x'])).body).toMatchObject({ field: 'permissions[0]' });
    const both = await refused(['role', 'update', 'keeper', '--permission', `${ORDERS}:orders:read`, '--no-permissions']);
    expect(both.message).toBe('portcullis: permissions (--permission): give --permission or --no-permissions, not both\n');
    expect((await cliJson<RoleView>(['role', 'show', 'keeper'], env)).permissions).toEqual([`${ORDERS}:orders:read`]);
  });

  test('a bad name is refused naming name alone (an operand, no flag)', async () => {
    const spaced = await refused(['role', 'create', 'two words']);
    expect(spaced.body).toMatchObject({ error: 'invalid_input', field: 'name' });
    expect(spaced.message).toMatch(/^portcullis: name: must be letters/);
  });
});

describe('role assign and unassign', () => {
  test('a person (by id or email) and a client hold a role; giving it twice or taking it twice changes nothing', async () => {
    await cliJson(['role', 'create', 'reader', '--permission', `${ORDERS}:orders:read`], env);

    expect(await cliJson(['role', 'assign', 'reader', '--user', ada], env)).toEqual({ role: 'reader', user_id: ada, assigned: true });
    expect(await cliJson(['role', 'assign', 'reader', '--user', 'ADA@example.com'], env)).toEqual({
      role: 'reader',
      user_id: ada,
      assigned: false,
    });
    const human = await cli(['role', 'assign', 'reader', '--client', clientId], env);
    expect(human.stdout).toBe(`client ${clientId} now holds role reader\n`);
    expect(await cliJson(['role', 'show', 'reader'], env)).toMatchObject({ users: 1, clients: 1 });
    expect(await running.services.roles.namesOf({ type: 'user', id: ada })).toEqual(['reader']);

    const events = await running.db.prisma.auditEvent.findMany({ where: { type: 'role.assigned', subject: 'reader' } });
    expect(events.map((event) => event.actorType).sort()).toEqual(['admin', 'admin']);

    expect(await cliJson(['role', 'unassign', 'reader', '--user', 'ada@example.com'], env)).toEqual({
      role: 'reader',
      user_id: ada,
      unassigned: true,
    });
    expect(await cliJson(['role', 'unassign', 'reader', '--user', ada], env)).toMatchObject({ unassigned: false });
    expect((await cli(['role', 'unassign', 'reader', '--client', clientId], env)).stdout).toBe(
      `client ${clientId} no longer holds role reader\n`,
    );
    expect(await running.db.prisma.userRole.count({ where: { userId: ada } })).toBe(0);
    expect(await running.db.prisma.clientRole.count({ where: { clientId } })).toBe(0);
  });

  test('someone who does not exist is refused, naming user_id or client_id and the flag', async () => {
    await cliJson(['role', 'create', 'auditor', '--permission', `${REPORTS}:reports:read`], env);

    const nobody = await refused(['role', 'assign', 'auditor', '--user', 'no-such-user']);
    expect(nobody.body).toMatchObject({ error: 'invalid_input', field: 'user_id' });
    expect(nobody.message).toBe('portcullis: user_id (--user): no user has the id no-such-user\n');
    const noEmail = await refused(['role', 'assign', 'auditor', '--user', 'nobody@example.com']);
    expect(noEmail.body).toMatchObject({ field: 'user_id' });
    expect(noEmail.message).toBe('portcullis: user_id (--user): no user has the email nobody@example.com\n');
    const noClient = await refused(['role', 'assign', 'auditor', '--client', 'no-such-client']);
    expect(noClient.body).toMatchObject({ field: 'client_id' });
    expect(noClient.message).toMatch(/^portcullis: client_id \(--client\): /);

    expect((await refused(['role', 'assign', 'auditor'])).message).toMatch(/^portcullis: user_id \(--user\): is required/);
    expect((await refused(['role', 'assign', 'auditor', '--user', ada, '--client', clientId])).body).toMatchObject({ field: 'client_id' });
    expect((await refused(['role', 'assign', 'no-such-role', '--user', ada])).body).toMatchObject({ error: 'not_found' });
    expect(await cliJson(['role', 'show', 'auditor'], env)).toMatchObject({ users: 0, clients: 0 });
  });
});
