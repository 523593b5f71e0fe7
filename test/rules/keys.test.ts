// The signing-key service's rules, on a fresh database without HTTP: the rotation's input is
// parsed in the wire's names, a rotation writes one audit event with its actor, and what the
// server does on its own (first keys, scheduled rotation, retirement) is recorded as Portcullis's.
import type { Actor } from '../../src/audit/index.ts';
import { InputError } from '../../src/errors/index.ts';
import { startServices, type TestServices } from '../support/services.ts';

const ADMIN: Actor = { type: 'admin', id: 'admin-client', ip: '203.0.113.9' };

let running: TestServices;

beforeAll(async () => {
  running = await startServices();
});
afterAll(() => running.stop());

const eventsOf = (type: string) =>
  running.db.prisma.auditEvent.findMany({ where: { type }, select: { actorType: true, actorId: true, ip: true, subject: true } });

test('the first keys are made by Portcullis itself', async () => {
  const created = await running.services.keys.ensure();
  expect(created).toHaveLength(2);
  expect(await eventsOf('signing_key.created')).toEqual(
    expect.arrayContaining(created.map((kid) => ({ actorType: 'system', actorId: null, ip: null, subject: kid }))),
  );
  expect(await running.services.keys.ensure()).toEqual([]);
});

test.each<[string, string, Record<string, unknown>]>([
  ['force as text', 'force', { force: 'yes' }],
  ['force as a number', 'force', { force: 1 }],
  ['an unknown field', 'forced', { forced: true }],
])('rotate: %s is refused, naming %s, and nothing rotates', async (_case, field, input) => {
  const before = await running.services.keys.list();
  const error = await running.services.keys.rotate(input, ADMIN).then(
    () => undefined,
    (refusal: unknown) => refusal,
  );
  expect(error).toBeInstanceOf(InputError);
  expect(error).toMatchObject({ field });
  expect(await running.services.keys.list()).toEqual(before);
});

test('a rotation writes one event with its actor', async () => {
  const rotated = await running.services.keys.rotate({ force: true }, ADMIN);
  expect(await eventsOf('signing_key.rotated')).toEqual([
    { actorType: 'admin', actorId: 'admin-client', ip: '203.0.113.9', subject: rotated.current },
  ]);
});

test('a scheduled rotation is Portcullis acting', async () => {
  const { prisma } = running.db;
  const dayAgo = new Date(Date.now() - 86_400_000);
  await prisma.signingKey.updateMany({ where: { state: 'current' }, data: { activatedAt: dayAgo } });
  await prisma.signingKey.updateMany({ where: { state: 'next' }, data: { createdAt: dayAgo } });
  const rotated = await running.services.keys.rotateIfDue(3600);
  expect(rotated).toBeDefined();
  expect(await eventsOf('signing_key.rotated')).toEqual(
    expect.arrayContaining([{ actorType: 'system', actorId: null, ip: null, subject: rotated!.current }]),
  );
});

test('retirement is Portcullis acting', async () => {
  const { prisma } = running.db;
  await prisma.signingKey.updateMany({ where: { state: 'previous' }, data: { deactivatedAt: new Date(Date.now() - 7 * 86_400_000) } });
  const retired = await running.services.keys.retireExpired();
  expect(retired.length).toBeGreaterThan(0);
  expect(await eventsOf('signing_key.retired')).toEqual(
    retired.map((kid) => ({ actorType: 'system', actorId: null, ip: null, subject: kid })),
  );
});
