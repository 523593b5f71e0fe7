// The authenticator app's rules, on a fresh database without HTTP: setting one up and confirming
// it, codes computed from the secret as an app does (otpauth), a step of drift either side and
// no more, a code good once (also when two requests bring it together), malformed codes, and the
// secret sealed at rest.
import { ConflictError } from '../../src/errors/index.ts';
import { eventsOf, startServices, type TestServices } from '../support/services.ts';
import { awayFromStepEdge, codeFor, person } from './helpers.ts';

let running: TestServices;

beforeAll(async () => {
  running = await startServices({ ISSUER: 'http://localhost:3000' });
});
afterAll(() => running.stop());

const factors = () => running.services.factors;

/** A person with a confirmed app whose last accepted step is long past (so every step around now is new). */
async function withApp() {
  const someone = await person(running);
  const { secret } = await factors().totp.begin(someone.id, someone.email);
  await awayFromStepEdge();
  const confirmed = await factors().totp.confirm(someone.id, codeFor(secret), someone.actor);
  expect(confirmed.ok).toBe(true);
  await running.db.prisma.totpFactor.update({ where: { userId: someone.id }, data: { lastStep: 0 } });
  return { ...someone, secret };
}

test('begin gives a base32 secret, its otpauth URI and a QR code without script or style', async () => {
  const someone = await person(running);
  const enrolment = await factors().totp.begin(someone.id, someone.email);
  expect(enrolment.secret).toMatch(/^[A-Z2-7]{32}$/);
  const uri = new URL(enrolment.uri);
  expect(uri.protocol).toBe('otpauth:');
  expect(uri.searchParams.get('secret')).toBe(enrolment.secret);
  expect(uri.searchParams.get('algorithm')).toBe('SHA1');
  expect(uri.searchParams.get('digits')).toBe('6');
  expect(uri.searchParams.get('period')).toBe('30');
  expect(decodeURIComponent(enrolment.uri)).toContain(someone.email);
  expect(enrolment.qrSvg.startsWith('<svg')).toBe(true);
  expect(enrolment.qrSvg).not.toMatch(/<script|\sstyle=|\son[a-z]+=/i);
});

test('the secret is sealed at rest: the table does not hold the base32', async () => {
  const someone = await person(running);
  const { secret } = await factors().totp.begin(someone.id, someone.email);
  const row = await running.db.prisma.totpFactor.findUniqueOrThrow({ where: { userId: someone.id } });
  expect(row.secret).not.toContain(secret);
  expect(row.secret).not.toContain(secret.toLowerCase());
  expect(row.secret.startsWith('v1.')).toBe(true);
});

test('pending shows the same setup again; begin again replaces it with a new secret', async () => {
  const someone = await person(running);
  expect(await factors().totp.pending(someone.id, someone.email)).toBeUndefined();
  const first = await factors().totp.begin(someone.id, someone.email);
  expect((await factors().totp.pending(someone.id, someone.email))?.secret).toBe(first.secret);
  const second = await factors().totp.begin(someone.id, someone.email);
  expect(second.secret).not.toBe(first.secret);
  expect((await factors().totp.pending(someone.id, someone.email))?.secret).toBe(second.secret);
  await awayFromStepEdge();
  // The first secret's code no longer confirms anything.
  expect(await factors().totp.confirm(someone.id, codeFor(first.secret), someone.actor)).toEqual({ ok: false, problem: 'wrong_code' });
  expect((await factors().totp.confirm(someone.id, codeFor(second.secret), someone.actor)).ok).toBe(true);
});

test('confirm: malformed, wrong, nothing pending, then a right code (with ten recovery codes and the events)', async () => {
  const someone = await person(running);
  expect(await factors().totp.confirm(someone.id, '123456', someone.actor)).toEqual({ ok: false, problem: 'none_pending' });
  const { secret } = await factors().totp.begin(someone.id, someone.email);
  expect(await factors().totp.confirm(someone.id, '12345', someone.actor)).toEqual({ ok: false, problem: 'malformed' });
  await awayFromStepEdge();
  const right = codeFor(secret);
  const wrong = String((Number(right) + 1) % 1_000_000).padStart(6, '0');
  expect(await factors().totp.confirm(someone.id, wrong, someone.actor)).toEqual({ ok: false, problem: 'wrong_code' });
  expect(await factors().hasSecondFactor(someone.id)).toBe(false);
  expect((await factors().summary(someone.id)).totp).toBeNull();

  let result: Awaited<ReturnType<ReturnType<typeof factors>['totp']['confirm']>> | undefined;
  const events = await eventsOf(running, async () => {
    result = await factors().totp.confirm(someone.id, right, someone.actor);
  });
  expect(result).toMatchObject({ ok: true, method: 'otp' });
  expect(result?.ok && result.recoveryCodes).toHaveLength(10);
  expect(events.map((event) => event.type).sort()).toEqual(['mfa.recovery_codes.generated', 'mfa.totp.enrolled']);
  for (const event of events) {
    expect(event).toMatchObject({ actorType: 'user', actorId: someone.id, subject: someone.id, ip: '198.51.100.7' });
    expect(JSON.stringify(event.details ?? {})).not.toContain(secret);
  }
  expect(await factors().hasSecondFactor(someone.id)).toBe(true);
  expect((await factors().summary(someone.id)).totp).toEqual({ createdAt: expect.any(Date), lastUsedAt: null });
  // The code that confirmed it is spent; a confirmed app is not set up again without removing it.
  expect(await factors().totp.verify(someone.id, right)).toBe('replayed');
  expect(await factors().totp.confirm(someone.id, right, someone.actor)).toEqual({ ok: false, problem: 'already_enrolled' });
  await expect(factors().totp.begin(someone.id, someone.email)).rejects.toBeInstanceOf(ConflictError);
  expect(await factors().totp.pending(someone.id, someone.email)).toBeUndefined();
});

test('verify: this step and one either side are accepted, two steps away are not', async () => {
  const someone = await withApp();
  await awayFromStepEdge();
  expect(await factors().totp.verify(someone.id, codeFor(someone.secret, -2))).toBe('wrong');
  expect(await factors().totp.verify(someone.id, codeFor(someone.secret, 2))).toBe('wrong');
  expect(await factors().totp.verify(someone.id, codeFor(someone.secret, -1))).toBe('ok');
  expect(await factors().totp.verify(someone.id, codeFor(someone.secret, 0))).toBe('ok');
  expect(await factors().totp.verify(someone.id, codeFor(someone.secret, 1))).toBe('ok');
  expect((await factors().summary(someone.id)).totp?.lastUsedAt).toBeInstanceOf(Date);
});

test('verify: a code is good once, and never one of a step before the last accepted', async () => {
  const someone = await withApp();
  await awayFromStepEdge();
  const now = codeFor(someone.secret, 0);
  expect(await factors().totp.verify(someone.id, now)).toBe('ok');
  expect(await factors().totp.verify(someone.id, now)).toBe('replayed');
  expect(await factors().totp.verify(someone.id, codeFor(someone.secret, -1))).toBe('replayed');
  expect(await factors().totp.verify(someone.id, codeFor(someone.secret, 1))).toBe('ok');
  expect(await factors().totp.verify(someone.id, now)).toBe('replayed');
});

test('verify: of five requests bringing the same code at once, one is accepted', async () => {
  const someone = await withApp();
  await awayFromStepEdge();
  const code = codeFor(someone.secret);
  const results = await Promise.all(Array.from({ length: 5 }, () => factors().totp.verify(someone.id, code)));
  expect(results.filter((result) => result === 'ok')).toHaveLength(1);
  expect(results.filter((result) => result === 'replayed')).toHaveLength(4);
});

test.each(['12345', '1234567', 'abcdef', '12345a', '', '１２３４５６', '123456\n7'])('verify: %j is malformed', async (code) => {
  const someone = await withApp();
  expect(await factors().totp.verify(someone.id, code)).toBe('malformed');
});

test('verify: spaces in a code are ignored (apps show "123 456")', async () => {
  const someone = await withApp();
  await awayFromStepEdge();
  const code = codeFor(someone.secret);
  expect(await factors().totp.verify(someone.id, `${code.slice(0, 3)} ${code.slice(3)}`)).toBe('ok');
});

test('verify: none without a confirmed app (a pending one does not count)', async () => {
  const someone = await person(running);
  expect(await factors().totp.verify(someone.id, '123456')).toBe('none');
  const { secret } = await factors().totp.begin(someone.id, someone.email);
  expect(await factors().totp.verify(someone.id, codeFor(secret))).toBe('none');
});

test("verify: one person's app never accepts for another", async () => {
  const ada = await withApp();
  const bob = await withApp();
  await awayFromStepEdge();
  expect(await factors().totp.verify(bob.id, codeFor(ada.secret))).toBe('wrong');
});

test('remove: the app goes (with an event); a second remove finds none', async () => {
  const someone = await withApp();
  const events = await eventsOf(running, async () => {
    expect(await factors().totp.remove(someone.id, someone.actor)).toBe(true);
  });
  expect(events.map((event) => event.type)).toEqual(['mfa.totp.removed']);
  expect(await factors().totp.remove(someone.id, someone.actor)).toBe(false);
  expect(await factors().totp.verify(someone.id, codeFor(someone.secret))).toBe('none');
  expect(await factors().hasSecondFactor(someone.id)).toBe(false);
  // It can be set up again; the recovery codes were kept, so none come with it.
  const { secret } = await factors().totp.begin(someone.id, someone.email);
  await awayFromStepEdge();
  const again = await factors().totp.confirm(someone.id, codeFor(secret), someone.actor);
  expect(again).toEqual({ ok: true, method: 'otp' });
});

test('two starts at once leave one pending setup, whose secret is one of theirs', async () => {
  const someone = await person(running);
  const started = await Promise.all([1, 2, 3].map(() => factors().totp.begin(someone.id, someone.email)));
  const pending = await factors().totp.pending(someone.id, someone.email);
  expect(started.map((enrolment) => enrolment.secret)).toContain(pending?.secret);
  expect(await running.db.prisma.totpFactor.count({ where: { userId: someone.id } })).toBe(1);
});
