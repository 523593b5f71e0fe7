// Recovery codes' rules, on a fresh database without HTTP (and a real SMTP server for the mail):
// ten with the first factor, each good once (also for two requests at once), typed with spaces,
// dashes and capitals, hashed at rest, a new set ending the old, the person told by mail in
// their language, and an event that carries no code.
import { startMailServer, type MailServer } from '../support/mail.ts';
import { eventsOf, startServices, type TestServices } from '../support/services.ts';
import { awayFromStepEdge, codeFor, person } from './helpers.ts';

let running: TestServices;
let mail: MailServer;

beforeAll(async () => {
  mail = await startMailServer();
  running = await startServices({ ISSUER: 'http://localhost:3000', SMTP_URL: mail.url });
});
afterAll(async () => {
  await running.stop();
  await mail.close();
});

const factors = () => running.services.factors;
const context = { ip: '198.51.100.7', language: 'en' };

/** A person who set up an app, and the ten codes that came with it. */
async function withCodes(name: string | null = null) {
  const someone = await person(running, name);
  const { secret } = await factors().totp.begin(someone.id, someone.email);
  await awayFromStepEdge();
  const confirmed = await factors().totp.confirm(someone.id, codeFor(secret), someone.actor);
  if (!confirmed.ok || !confirmed.recoveryCodes) throw new Error('no recovery codes came with the first factor');
  return { ...someone, codes: confirmed.recoveryCodes };
}

test('the first factor brings ten distinct codes, xxxxx-xxxxx from an unambiguous alphabet', async () => {
  const { codes, id } = await withCodes();
  expect(codes).toHaveLength(10);
  expect(new Set(codes).size).toBe(10);
  for (const code of codes) expect(code).toMatch(/^[a-hjkmnp-z2-9]{5}-[a-hjkmnp-z2-9]{5}$/);
  expect((await factors().summary(id)).recoveryCodesLeft).toBe(10);
});

test('codes are keyed hashes at rest', async () => {
  const { codes, id } = await withCodes();
  const rows = await running.db.prisma.recoveryCode.findMany({ where: { userId: id } });
  expect(rows).toHaveLength(10);
  const stored = JSON.stringify(rows);
  for (const code of codes) {
    expect(stored).not.toContain(code);
    expect(stored).not.toContain(code.replace('-', ''));
  }
});

test('a code works once, typed with spaces, dashes and capitals; the person is told by mail', async () => {
  const someone = await withCodes('Ada');
  const [first, second] = someone.codes as [string, string];
  const typed = ` ${first.toUpperCase().replace('-', ' - ')} `;
  const events = await eventsOf(running, async () => {
    expect(await factors().recoveryCodes.use(someone.id, typed, context)).toBe('ok');
  });
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({
    type: 'mfa.recovery_code.used',
    actorType: 'user',
    actorId: someone.id,
    subject: someone.id,
    ip: '198.51.100.7',
    details: { left: 9 },
  });
  expect(JSON.stringify(events[0])).not.toContain(first.replace('-', ''));
  expect(await factors().recoveryCodes.use(someone.id, first, context)).toBe('wrong');
  expect((await factors().summary(someone.id)).recoveryCodesLeft).toBe(9);

  const notice = await mail.next(someone.email, { subject: /recovery code was used/ });
  expect(notice.text).toContain('Hello Ada,');
  expect(notice.text).toContain('You have 9 recovery codes left.');
  expect(notice.text).toContain('http://localhost:3000/account');
  expect(notice.text).not.toContain(first);
  expect(notice.html).toContain('You have 9 recovery codes left.');

  // In the language of the sign-in.
  expect(await factors().recoveryCodes.use(someone.id, second, { language: 'de' })).toBe('ok');
  const german = await mail.next(someone.email, { subject: /Wiederherstellungscode/ });
  expect(german.text).toContain('Sie haben noch 8 Wiederherstellungscodes.');
});

test('the mail and the use are one: the outbox holds the mail written with it', async () => {
  const someone = await withCodes();
  const before = await running.db.prisma.outboxMessage.count({ where: { purpose: 'recovery-code-used' } });
  expect(await factors().recoveryCodes.use(someone.id, someone.codes[0]!, context)).toBe('ok');
  expect(await running.db.prisma.outboxMessage.count({ where: { purpose: 'recovery-code-used' } })).toBe(before + 1);
});

test('the last code used: the mail says none are left', async () => {
  const someone = await withCodes();
  for (const code of someone.codes) expect(await factors().recoveryCodes.use(someone.id, code, context)).toBe('ok');
  expect((await factors().summary(someone.id)).recoveryCodesLeft).toBe(0);
  const last = await mail.next(someone.email, { after: 9, subject: /recovery code was used/ });
  expect(last.text).toContain('You have no recovery codes left.');
});

test('of three requests with the same code at once, one is accepted', async () => {
  const someone = await withCodes();
  const results = await Promise.all([1, 2, 3].map(() => factors().recoveryCodes.use(someone.id, someone.codes[0]!, context)));
  expect(results.filter((result) => result === 'ok')).toHaveLength(1);
  expect(results.filter((result) => result === 'wrong')).toHaveLength(2);
});

test.each(['', 'abcde', 'abcde-abcde-a', 'abcde-abc0e', 'abcde-abcle', '!!!!!-!!!!!'])('%j is malformed (not counted)', async (code) => {
  const someone = await withCodes();
  expect(await factors().recoveryCodes.use(someone.id, code, context)).toBe('malformed');
});

test("one person's code is wrong for another, and a code never made is wrong", async () => {
  const ada = await withCodes();
  const bob = await withCodes();
  expect(await factors().recoveryCodes.use(bob.id, ada.codes[0]!, context)).toBe('wrong');
  expect(await factors().recoveryCodes.use(bob.id, 'aaaaa-aaaaa', context)).toBe('wrong');
  expect(await factors().recoveryCodes.use(ada.id, ada.codes[0]!, context)).toBe('ok');
});

test('regenerate: ten new codes, the old ones stop working, one event', async () => {
  const someone = await withCodes();
  let fresh: string[] = [];
  const events = await eventsOf(running, async () => {
    fresh = await factors().recoveryCodes.regenerate(someone.id, someone.actor);
  });
  expect(fresh).toHaveLength(10);
  expect(fresh.some((code) => someone.codes.includes(code))).toBe(false);
  expect(events).toHaveLength(1);
  expect(events[0]).toMatchObject({ type: 'mfa.recovery_codes.generated', actorType: 'user', actorId: someone.id, details: { count: 10 } });
  expect(JSON.stringify(events[0])).not.toContain(fresh[0]!);
  expect(await factors().recoveryCodes.use(someone.id, someone.codes[1]!, context)).toBe('wrong');
  expect(await factors().recoveryCodes.use(someone.id, fresh[1]!, context)).toBe('ok');
  expect((await factors().summary(someone.id)).recoveryCodesLeft).toBe(9);
});

test('recovery codes alone are not a second factor', async () => {
  const someone = await person(running);
  await factors().recoveryCodes.regenerate(someone.id, someone.actor);
  expect(await factors().hasSecondFactor(someone.id)).toBe(false);
});
