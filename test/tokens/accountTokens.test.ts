// One-time links and codes (src/accounts/tokens.ts) on a real database: only keyed hashes are
// stored, a link works once and for its purpose only, expires, and a newer link replaces an
// older one; codes are limited in their wrong tries; two uses at once give one winner.
import { createAccountTokens, MAX_CODE_FAILURES, TOKEN_LIFETIME_SECONDS } from '../../src/accounts/index.ts';
import { startServices, type TestServices } from '../support/services.ts';

let running: TestServices;
let tokens: ReturnType<typeof createAccountTokens>;

beforeAll(async () => {
  running = await startServices();
  tokens = createAccountTokens({ prisma: running.db.prisma, pepper: running.config.hashPepper });
});
afterAll(() => running.stop());

test('a token is stored only as a keyed hash, works once, and only for its purpose', async () => {
  const issued = await tokens.issue(running.db.prisma, { purpose: 'reset_password', email: 'ada@example.com', userId: 'user-ada' });
  const row = await running.db.prisma.accountToken.findUniqueOrThrow({ where: { id: issued.id } });
  expect(JSON.stringify(row)).not.toContain(issued.token);
  expect(row.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(TOKEN_LIFETIME_SECONDS.reset_password * 1000);
  expect(row.expiresAt.getTime() - Date.now()).toBeGreaterThan((TOKEN_LIFETIME_SECONDS.reset_password - 60) * 1000);

  expect(await tokens.check('verify_email', issued.token)).toEqual({ ok: false, reason: 'unknown' });
  // Tampered: its last character changed (to one it is not already).
  const tampered = `${issued.token.slice(0, -1)}${issued.token.endsWith('A') ? 'B' : 'A'}`;
  expect(await tokens.check('reset_password', tampered)).toMatchObject({ ok: false, reason: 'unknown' });
  expect(await tokens.check('reset_password', issued.token)).toMatchObject({ ok: true, row: { id: issued.id } });
  expect(await tokens.consume(running.db.prisma, issued.id)).toBe(true);
  expect(await tokens.consume(running.db.prisma, issued.id)).toBe(false);
  expect(await tokens.check('reset_password', issued.token)).toMatchObject({ ok: false, reason: 'used' });
});

test('an expired token says so, and cannot be used', async () => {
  const issued = await tokens.issue(running.db.prisma, {
    purpose: 'verify_email',
    email: 'bob@example.com',
    userId: 'user-bob',
    ttlSeconds: 1,
  });
  await running.db.prisma.accountToken.update({ where: { id: issued.id }, data: { expiresAt: new Date(Date.now() - 1000) } });
  expect(await tokens.check('verify_email', issued.token)).toMatchObject({ ok: false, reason: 'expired' });
  expect(await tokens.consume(running.db.prisma, issued.id)).toBe(false);
});

test('a newer link of the same purpose and person replaces the older one', async () => {
  const first = await tokens.issue(running.db.prisma, { purpose: 'verify_email', email: 'carol@example.com', userId: 'user-carol' });
  const second = await tokens.issue(running.db.prisma, { purpose: 'verify_email', email: 'carol@example.com', userId: 'user-carol' });
  expect(await tokens.check('verify_email', first.token)).toMatchObject({ ok: false, reason: 'expired' });
  expect(await tokens.check('verify_email', second.token)).toMatchObject({ ok: true });
  // Another person's links are untouched.
  const other = await tokens.issue(running.db.prisma, { purpose: 'verify_email', email: 'dan@example.com', userId: 'user-dan' });
  await tokens.issue(running.db.prisma, { purpose: 'verify_email', email: 'carol@example.com', userId: 'user-carol' });
  expect(await tokens.check('verify_email', other.token)).toMatchObject({ ok: true });
});

test('a code works for its address, and stops after too many wrong tries', async () => {
  const issued = await tokens.issue(running.db.prisma, {
    purpose: 'verify_email',
    email: 'eve@example.com',
    userId: 'user-eve',
    withCode: true,
  });
  expect(issued.code).toMatch(/^\d{6}$/);
  expect(await tokens.checkCode('verify_email', 'someone@example.com', issued.code)).toMatchObject({ ok: false, reason: 'unknown' });
  expect(await tokens.checkCode('verify_email', 'eve@example.com', issued.code)).toMatchObject({ ok: true, row: { id: issued.id } });
  const wrong = issued.code === '000000' ? '111111' : '000000';
  for (let i = 0; i < MAX_CODE_FAILURES; i += 1)
    expect(await tokens.checkCode('verify_email', 'eve@example.com', wrong)).toMatchObject({ ok: false });
  // The right code no longer works; the link still does.
  expect(await tokens.checkCode('verify_email', 'eve@example.com', issued.code)).toMatchObject({ ok: false, reason: 'expired' });
  expect(await tokens.check('verify_email', issued.token)).toMatchObject({ ok: true });
});

test('of two uses at once, one wins', async () => {
  const issued = await tokens.issue(running.db.prisma, { purpose: 'invitation', email: 'fay@example.com', name: 'Fay' });
  const results = await Promise.all(Array.from({ length: 5 }, () => tokens.consume(running.db.prisma, issued.id)));
  expect(results.filter(Boolean)).toHaveLength(1);
});

test('revokeFor ends every live token of a person, and purge deletes old ones', async () => {
  const a = await tokens.issue(running.db.prisma, { purpose: 'reset_password', email: 'gus@example.com', userId: 'user-gus' });
  const b = await tokens.issue(running.db.prisma, { purpose: 'change_email', email: 'gus2@example.com', userId: 'user-gus' });
  await tokens.revokeFor(running.db.prisma, 'user-gus');
  expect(await tokens.check('reset_password', a.token)).toMatchObject({ ok: false, reason: 'expired' });
  expect(await tokens.check('change_email', b.token)).toMatchObject({ ok: false, reason: 'expired' });
  await running.db.prisma.accountToken.update({ where: { id: a.id }, data: { expiresAt: new Date(Date.now() - 2 * 86_400_000) } });
  expect(await tokens.purge()).toBeGreaterThanOrEqual(1);
  expect(await running.db.prisma.accountToken.findUnique({ where: { id: a.id } })).toBeNull();
});
