// Passkeys' rules, on a fresh database without HTTP, with the software authenticator of
// test/support/authenticator.ts: registering (with the options a browser gets), answering as a
// second factor and alone (passwordless), and every refusal: another person's credential,
// another ceremony's or a used or expired challenge, another origin or rp id, a bad signature,
// a counter that went back, no user verification where it is required, and answers that are not
// WebAuthn at all (a problem, never a throw). Then removal, an administrator's reset, the
// deletion of everything of a person's, the purge, and the account's export and deletion.
import crypto from 'node:crypto';
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from '@simplewebauthn/server';
import type { CeremonyBinding } from '../../src/factors/index.ts';
import { createAuthenticator, type SoftwareAuthenticator } from '../support/authenticator.ts';
import { eventsOf, startServices, type TestServices } from '../support/services.ts';
import { ADMIN, awayFromStepEdge, codeFor, person } from './helpers.ts';

const ORIGIN = 'http://localhost:3000';
let running: TestServices;

beforeAll(async () => {
  running = await startServices({ ISSUER: ORIGIN });
});
afterAll(() => running.stop());

const factors = () => running.services.factors;
const newBinding = (kind: CeremonyBinding['kind'] = 'session'): CeremonyBinding => ({ kind, uid: crypto.randomUUID() });
const device = (synced = true) => createAuthenticator({ rpId: 'localhost', origin: ORIGIN, synced });

type Person = Awaited<ReturnType<typeof person>>;

/** Registers a passkey of `authenticator` for `someone`; returns the result and the passkey's credential id. */
async function register(someone: Person, authenticator: SoftwareAuthenticator, name = '') {
  const binding = newBinding();
  const options = await factors().passkeys.registrationOptions({ id: someone.id, email: someone.email, name: someone.name }, binding);
  const result = await factors().passkeys.register(someone.id, authenticator.attest(options), name, binding, someone.actor);
  return { result, credentialId: authenticator.credentials.at(-1)!.id };
}

/** A person with one registered passkey on a new authenticator. */
async function withPasskey(synced = true) {
  const someone = await person(running, 'Ada');
  const authenticator = device(synced);
  const { result, credentialId } = await register(someone, authenticator, 'Laptop');
  expect(result.ok).toBe(true);
  return { ...someone, authenticator, credentialId };
}

describe('registration', () => {
  test('the options: rp id and name, the person by the bytes of their id, discoverable, attestation none', async () => {
    const someone = await person(running, 'Ada');
    const options = (await factors().passkeys.registrationOptions(
      { id: someone.id, email: someone.email, name: 'Ada' },
      newBinding(),
    )) as PublicKeyCredentialCreationOptionsJSON;
    expect(options.rp).toEqual({ id: 'localhost', name: expect.any(String) });
    expect(options.user).toEqual({ id: Buffer.from(someone.id).toString('base64url'), name: someone.email, displayName: 'Ada' });
    expect(options.authenticatorSelection).toMatchObject({ residentKey: 'required', userVerification: 'preferred' });
    expect(options.attestation).toBe('none');
    expect(options.excludeCredentials).toEqual([]);
    expect(options.timeout).toBe(300_000);
    // Only a keyed hash of the challenge is kept.
    const stored = await running.db.prisma.webAuthnChallenge.findMany({ where: { userId: someone.id } });
    expect(stored).toHaveLength(1);
    expect(JSON.stringify(stored)).not.toContain(options.challenge);
    expect(stored[0]).toMatchObject({ purpose: 'register' });
  });

  test('a first passkey: stored, listed, one event, and ten recovery codes', async () => {
    const someone = await person(running, 'Ada');
    const authenticator = device();
    let outcome: Awaited<ReturnType<typeof register>> | undefined;
    const events = await eventsOf(running, async () => {
      outcome = await register(someone, authenticator, '  My phone  ');
    });
    expect(outcome?.result).toMatchObject({ ok: true, method: 'swk' });
    expect(outcome?.result.ok && outcome.result.recoveryCodes).toHaveLength(10);
    const [listed] = await factors().passkeys.list(someone.id);
    expect(listed).toEqual({ id: expect.any(String), name: 'My phone', synced: true, createdAt: expect.any(Date), lastUsedAt: null });
    expect(events.map((event) => event.type).sort()).toEqual(['mfa.passkey.registered', 'mfa.recovery_codes.generated']);
    const registered = events.find((event) => event.type === 'mfa.passkey.registered')!;
    expect(registered).toMatchObject({
      actorType: 'user',
      actorId: someone.id,
      subject: someone.id,
      details: { passkey_id: listed!.id, synced: true },
    });
    const row = await running.db.prisma.passkey.findUniqueOrThrow({ where: { id: listed!.id } });
    expect(row).toMatchObject({
      credentialId: outcome!.credentialId,
      deviceType: 'multiDevice',
      backedUp: true,
      transports: 'internal hybrid',
    });
    expect(await factors().hasSecondFactor(someone.id)).toBe(true);
    // The challenge was used.
    expect(await running.db.prisma.webAuthnChallenge.count({ where: { userId: someone.id } })).toBe(0);
  });

  test('a second passkey: excluded credentials name the first; no new recovery codes; a device-bound one is hwk', async () => {
    const someone = await withPasskey();
    const options = (await factors().passkeys.registrationOptions(
      { id: someone.id, email: someone.email, name: null },
      newBinding(),
    )) as PublicKeyCredentialCreationOptionsJSON;
    expect(options.excludeCredentials).toEqual([{ id: someone.credentialId, type: 'public-key', transports: ['internal', 'hybrid'] }]);
    expect(options.user.displayName).toBe(someone.email);
    const { result } = await register(someone, device(false), 'Security key');
    expect(result).toEqual({ ok: true, method: 'hwk' });
    expect((await factors().passkeys.list(someone.id)).map((passkey) => [passkey.name, passkey.synced])).toEqual([
      ['Laptop', true],
      ['Security key', false],
    ]);
  });

  test('an empty name gets a default; a name too long or with a control character is refused', async () => {
    const someone = await person(running);
    const { result } = await register(someone, device(), '');
    expect(result.ok).toBe(true);
    expect((await factors().passkeys.list(someone.id))[0]!.name).toMatch(/^Passkey \d{4}-\d{2}-\d{2}$/);
    expect((await register(someone, device(), 'x'.repeat(61))).result).toEqual({ ok: false, problem: 'name' });
    expect((await register(someone, device(), 'two\nlines')).result).toEqual({ ok: false, problem: 'name' });
    expect((await register(someone, device(), 'é'.repeat(60))).result.ok).toBe(true);
  });

  test.each<[string, Parameters<SoftwareAuthenticator['attest']>[1]]>([
    ['another origin', { origin: 'https://evil.example' }],
    ['another rp id', { rpId: 'evil.example' }],
    ['an assertion type', { type: 'webauthn.get' }],
  ])('%s is refused, and the challenge is spent', async (_case, overrides) => {
    const someone = await person(running);
    const binding = newBinding();
    const options = await factors().passkeys.registrationOptions({ id: someone.id, email: someone.email, name: null }, binding);
    const authenticator = device();
    expect(await factors().passkeys.register(someone.id, authenticator.attest(options, overrides), '', binding, someone.actor)).toEqual({
      ok: false,
      problem: 'invalid_response',
    });
    expect(await factors().passkeys.register(someone.id, authenticator.attest(options), '', binding, someone.actor)).toEqual({
      ok: false,
      problem: 'expired_challenge',
    });
    expect(await factors().passkeys.list(someone.id)).toEqual([]);
  });

  test("another ceremony's challenge, another person's, a made-up one, or an expired one is refused", async () => {
    const someone = await person(running);
    const other = await person(running);
    const binding = newBinding();
    const options = await factors().passkeys.registrationOptions({ id: someone.id, email: someone.email, name: null }, binding);
    const authenticator = device();
    const response = authenticator.attest(options);
    const expired = { ok: false, problem: 'expired_challenge' };
    expect(await factors().passkeys.register(someone.id, response, '', newBinding(), someone.actor)).toEqual(expired);
    expect(await factors().passkeys.register(someone.id, response, '', { kind: 'interaction', uid: binding.uid }, someone.actor)).toEqual(
      expired,
    );
    expect(await factors().passkeys.register(other.id, response, '', binding, other.actor)).toEqual(expired);
    expect(
      await factors().passkeys.register(someone.id, authenticator.attest(options, { challenge: 'bWFkZS11cA' }), '', binding, someone.actor),
    ).toEqual(expired);
    // An authentication challenge is not a registration's.
    const asAuthentication = await factors().passkeys.authenticationOptions(binding, someone.id);
    const asCreation = { ...(asAuthentication as object), user: { id: Buffer.from(someone.id).toString('base64url') } };
    expect(await factors().passkeys.register(someone.id, authenticator.attest(asCreation), '', binding, someone.actor)).toEqual(expired);
    // Past its five minutes.
    await running.db.prisma.webAuthnChallenge.updateMany({
      where: { userId: someone.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect(await factors().passkeys.register(someone.id, response, '', binding, someone.actor)).toEqual(expired);
  });
});

describe('authentication', () => {
  test('as a second factor: only the person’s passkeys are allowed; the counter and last use are kept', async () => {
    const someone = await withPasskey();
    const binding = newBinding('interaction');
    const options = (await factors().passkeys.authenticationOptions(binding, someone.id)) as PublicKeyCredentialRequestOptionsJSON;
    expect(options.rpId).toBe('localhost');
    expect(options.userVerification).toBe('preferred');
    expect(options.allowCredentials).toEqual([{ id: someone.credentialId, type: 'public-key', transports: ['internal', 'hybrid'] }]);
    const checked = await factors().passkeys.authenticate(someone.authenticator.assert(options), binding, someone.id);
    const [listed] = await factors().passkeys.list(someone.id);
    expect(checked).toEqual({ ok: true, userId: someone.id, passkeyId: listed!.id, method: 'swk', userVerified: true });
    expect(listed!.lastUsedAt).toBeInstanceOf(Date);
    expect((await running.db.prisma.passkey.findUniqueOrThrow({ where: { id: listed!.id } })).counter).toBe(1n);
  });

  test('as a second factor, without user verification: accepted, and says so', async () => {
    const someone = await withPasskey(false);
    const binding = newBinding('interaction');
    const options = await factors().passkeys.authenticationOptions(binding, someone.id);
    const checked = await factors().passkeys.authenticate(
      someone.authenticator.assert(options, { userVerified: false }),
      binding,
      someone.id,
    );
    expect(checked).toMatchObject({ ok: true, method: 'hwk', userVerified: false });
  });

  test('passwordless: any discoverable passkey, user verification required, its owner found', async () => {
    const someone = await withPasskey();
    const binding = newBinding('interaction');
    const options = (await factors().passkeys.authenticationOptions(binding)) as PublicKeyCredentialRequestOptionsJSON;
    expect(options.userVerification).toBe('required');
    expect(options.allowCredentials ?? []).toEqual([]);
    expect(await factors().passkeys.authenticate(someone.authenticator.assert(options), binding)).toMatchObject({
      ok: true,
      userId: someone.id,
      userVerified: true,
    });
    const again = await factors().passkeys.authenticationOptions(binding);
    expect(await factors().passkeys.authenticate(someone.authenticator.assert(again, { userVerified: false }), binding)).toEqual({
      ok: false,
      problem: 'invalid_response',
    });
  });

  test('passwordless: a disabled owner’s passkey does not sign in', async () => {
    const someone = await withPasskey();
    await running.services.users.setDisabled(someone.id, true, ADMIN);
    const binding = newBinding('interaction');
    const options = await factors().passkeys.authenticationOptions(binding);
    expect(await factors().passkeys.authenticate(someone.authenticator.assert(options), binding)).toEqual({
      ok: false,
      problem: 'unknown_credential',
    });
  });

  test("with a person named, another person's credential is unknown (and their own still works)", async () => {
    const ada = await withPasskey();
    const bob = await withPasskey();
    const binding = newBinding('interaction');
    const options = await factors().passkeys.authenticationOptions(binding, bob.id);
    // Ada's authenticator answers Bob's challenge with Ada's credential.
    const response = ada.authenticator.assert(options, { credential: ada.credentialId });
    expect(await factors().passkeys.authenticate(response, binding, bob.id)).toEqual({ ok: false, problem: 'unknown_credential' });
    const fresh = await factors().passkeys.authenticationOptions(binding, bob.id);
    expect((await factors().passkeys.authenticate(bob.authenticator.assert(fresh), binding, bob.id)).ok).toBe(true);
  });

  test('a credential never registered is unknown', async () => {
    const someone = await withPasskey();
    const stranger = device();
    stranger.attest(await factors().passkeys.registrationOptions({ id: someone.id, email: someone.email, name: null }, newBinding()));
    const binding = newBinding('interaction');
    const options = await factors().passkeys.authenticationOptions(binding);
    expect(await factors().passkeys.authenticate(stranger.assert(options), binding)).toEqual({ ok: false, problem: 'unknown_credential' });
  });

  test('a challenge is good once, for its own ceremony, person and purpose, before it expires', async () => {
    const someone = await withPasskey();
    const other = await person(running);
    const binding = newBinding('interaction');
    const expired = { ok: false, problem: 'expired_challenge' };

    const options = await factors().passkeys.authenticationOptions(binding, someone.id);
    const response = someone.authenticator.assert(options);
    expect(await factors().passkeys.authenticate(response, newBinding('interaction'), someone.id)).toEqual(expired);
    expect(await factors().passkeys.authenticate(response, { kind: 'session', uid: binding.uid }, someone.id)).toEqual(expired);
    expect(await factors().passkeys.authenticate(response, binding, other.id)).toEqual(expired);
    // A second-factor challenge is not a passwordless one.
    expect(await factors().passkeys.authenticate(response, binding)).toEqual(expired);
    expect((await factors().passkeys.authenticate(response, binding, someone.id)).ok).toBe(true);
    // Replayed.
    expect(await factors().passkeys.authenticate(response, binding, someone.id)).toEqual(expired);

    // A registration challenge is not an authentication's.
    const registration = await factors().passkeys.registrationOptions({ id: someone.id, email: someone.email, name: null }, binding);
    expect(
      await factors().passkeys.authenticate(
        someone.authenticator.assert({ ...(registration as object), allowCredentials: [] }),
        binding,
        someone.id,
      ),
    ).toEqual(expired);

    // Expired.
    const late = await factors().passkeys.authenticationOptions(binding, someone.id);
    await running.db.prisma.webAuthnChallenge.updateMany({
      where: { userId: someone.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    expect(await factors().passkeys.authenticate(someone.authenticator.assert(late), binding, someone.id)).toEqual(expired);
  });

  test.each<[string, Parameters<SoftwareAuthenticator['assert']>[1]]>([
    ['another origin', { origin: 'https://evil.example' }],
    ['another rp id', { rpId: 'evil.example' }],
    ['a bad signature', { badSignature: true }],
    ['a registration type', { type: 'webauthn.create' }],
  ])('%s is refused', async (_case, overrides) => {
    const someone = await withPasskey();
    const binding = newBinding('interaction');
    const options = await factors().passkeys.authenticationOptions(binding, someone.id);
    expect(await factors().passkeys.authenticate(someone.authenticator.assert(options, overrides), binding, someone.id)).toEqual({
      ok: false,
      problem: 'invalid_response',
    });
  });

  test('a counter that did not go up (a cloned authenticator) is refused', async () => {
    const someone = await withPasskey();
    const binding = newBinding('interaction');
    const answer = async (counter?: number) => {
      const options = await factors().passkeys.authenticationOptions(binding, someone.id);
      return factors().passkeys.authenticate(
        someone.authenticator.assert(options, counter === undefined ? {} : { counter }),
        binding,
        someone.id,
      );
    };
    expect((await answer(5)).ok).toBe(true);
    expect(await answer(5)).toEqual({ ok: false, problem: 'invalid_response' });
    expect(await answer(3)).toEqual({ ok: false, problem: 'invalid_response' });
    expect(await answer(0)).toEqual({ ok: false, problem: 'invalid_response' });
    expect((await answer(6)).ok).toBe(true);
  });

  test('an authenticator that does not count (always 0) keeps working', async () => {
    const someone = await withPasskey();
    const binding = newBinding('interaction');
    for (let i = 0; i < 2; i += 1) {
      const options = await factors().passkeys.authenticationOptions(binding, someone.id);
      expect((await factors().passkeys.authenticate(someone.authenticator.assert(options, { counter: 0 }), binding, someone.id)).ok).toBe(
        true,
      );
    }
  });
});

describe('answers that are not WebAuthn', () => {
  const notJson = [
    ['not JSON', 'not json'],
    ['null', 'null'],
    ['an array', '[]'],
    ['an empty object', '{}'],
    ['a number', '42'],
    ['far too long', `"${'a'.repeat(20_000)}"`],
  ];
  const shaped = (clientDataJSON: string) =>
    JSON.stringify({
      id: 'AAAA',
      rawId: 'AAAA',
      type: 'public-key',
      clientExtensionResults: {},
      response: { clientDataJSON, attestationObject: 'AAAA', authenticatorData: 'AAAA', signature: 'AAAA' },
    });
  const cases = [
    ...notJson,
    ['client data that is not base64url', shaped('*** not base64 ***')],
    ['client data that is not JSON', shaped(Buffer.from('nope').toString('base64url'))],
    ['client data without a challenge', shaped(Buffer.from('{"type":"webauthn.get"}').toString('base64url'))],
    ['another credential type', shaped('AAAA').replace('public-key', 'password')],
  ];

  test.each(cases)('authenticate: %s is malformed', async (_case, response) => {
    const binding = newBinding('interaction');
    await factors().passkeys.authenticationOptions(binding);
    await expect(factors().passkeys.authenticate(response!, binding)).resolves.toEqual({ ok: false, problem: 'malformed' });
  });

  test.each(cases)('register: %s is malformed', async (_case, response) => {
    const someone = await person(running);
    const binding = newBinding();
    await factors().passkeys.registrationOptions({ id: someone.id, email: someone.email, name: null }, binding);
    await expect(factors().passkeys.register(someone.id, response!, '', binding, someone.actor)).resolves.toEqual({
      ok: false,
      problem: 'malformed',
    });
  });

  test('a valid shape with garbage inside is refused by the library, not thrown', async () => {
    const someone = await person(running);
    const binding = newBinding();
    const options = (await factors().passkeys.registrationOptions({ id: someone.id, email: someone.email, name: null }, binding)) as {
      challenge: string;
    };
    const clientData = Buffer.from(JSON.stringify({ type: 'webauthn.create', challenge: options.challenge, origin: ORIGIN })).toString(
      'base64url',
    );
    await expect(factors().passkeys.register(someone.id, shaped(clientData), '', binding, someone.actor)).resolves.toEqual({
      ok: false,
      problem: 'invalid_response',
    });
  });
});

describe('removal, reset, deletion', () => {
  test("remove: a person's own passkey (one event), never another's", async () => {
    const ada = await withPasskey();
    const bob = await withPasskey();
    const [adaKey] = await factors().passkeys.list(ada.id);
    expect(await factors().passkeys.remove(bob.id, adaKey!.id, bob.actor)).toBe(false);
    const events = await eventsOf(running, async () => {
      expect(await factors().passkeys.remove(ada.id, adaKey!.id, ada.actor)).toBe(true);
    });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'mfa.passkey.removed', actorId: ada.id, subject: ada.id, details: { passkey_id: adaKey!.id } });
    expect(await factors().passkeys.remove(ada.id, adaKey!.id, ada.actor)).toBe(false);
    expect(await factors().hasSecondFactor(ada.id)).toBe(false);
    const binding = newBinding('interaction');
    const options = await factors().passkeys.authenticationOptions(binding);
    expect(await factors().passkeys.authenticate(ada.authenticator.assert(options, { credential: ada.credentialId }), binding)).toEqual({
      ok: false,
      problem: 'unknown_credential',
    });
  });

  test('reset: the chosen factors go, with one event saying which', async () => {
    const someone = await withPasskey();
    const { secret } = await factors().totp.begin(someone.id, someone.email);
    await awayFromStepEdge();
    expect((await factors().totp.confirm(someone.id, codeFor(secret), someone.actor)).ok).toBe(true);

    let summary = await factors().summary(someone.id);
    expect(summary).toMatchObject({ totp: expect.any(Object), recoveryCodesLeft: 10 });
    expect(summary.passkeys).toHaveLength(1);

    const events = await eventsOf(running, async () => {
      summary = await factors().reset(someone.id, 'passkeys', ADMIN);
    });
    expect(summary.passkeys).toEqual([]);
    expect(summary.totp).not.toBeNull();
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      type: 'mfa.reset',
      actorType: 'admin',
      actorId: 'admin-client',
      subject: someone.id,
      details: { which: 'passkeys', removed: { passkeys: 1, totp: 0, recovery_codes: 0 } },
    });
    expect(await factors().reset(someone.id, 'recovery_codes', ADMIN)).toMatchObject({ recoveryCodesLeft: 0, totp: expect.any(Object) });
    await register(someone, device());
    summary = await factors().reset(someone.id, 'all', ADMIN);
    expect(summary).toEqual({ totp: null, passkeys: [], recoveryCodesLeft: 0 });
    expect(await factors().hasSecondFactor(someone.id)).toBe(false);
  });

  test('deleteAllFor: every factor and challenge of the person goes, no one else’s, with no event', async () => {
    const someone = await withPasskey();
    const other = await withPasskey();
    await factors().totp.begin(someone.id, someone.email);
    await factors().passkeys.authenticationOptions(newBinding(), someone.id);
    const events = await eventsOf(running, () => factors().deleteAllFor(someone.id));
    expect(events).toEqual([]);
    const { prisma } = running.db;
    for (const count of [
      prisma.totpFactor.count({ where: { userId: someone.id } }),
      prisma.recoveryCode.count({ where: { userId: someone.id } }),
      prisma.passkey.count({ where: { userId: someone.id } }),
      prisma.webAuthnChallenge.count({ where: { userId: someone.id } }),
    ])
      expect(await count).toBe(0);
    expect(await factors().passkeys.list(other.id)).toHaveLength(1);
  });

  test('purgeExpired: only expired challenges go', async () => {
    const someone = await person(running);
    await factors().passkeys.authenticationOptions(newBinding(), someone.id);
    await factors().passkeys.authenticationOptions(newBinding(), someone.id);
    await running.db.prisma.webAuthnChallenge.updateMany({
      where: { userId: someone.id },
      data: { expiresAt: new Date(Date.now() - 1000) },
    });
    await factors().passkeys.authenticationOptions(newBinding(), someone.id);
    expect(await factors().purgeExpired()).toBeGreaterThanOrEqual(2);
    expect(await running.db.prisma.webAuthnChallenge.count({ where: { userId: someone.id } })).toBe(1);
  });

  test("the account's export lists its factors without a secret; its deletion deletes them", async () => {
    const someone = await withPasskey();
    const { secret } = await factors().totp.begin(someone.id, someone.email);
    await awayFromStepEdge();
    const confirmed = await factors().totp.confirm(someone.id, codeFor(secret), someone.actor);
    const exported = await running.services.ownAccount.dataExport.exportFor(someone.id, 'no-session', someone.actor);
    const factorsExported = exported?.second_factors;
    expect(factorsExported).toEqual({
      authenticator_app: { created_at: expect.any(String), last_used_at: null },
      passkeys: [{ id: expect.any(String), name: 'Laptop', synced: true, created_at: expect.any(String), last_used_at: null }],
      recovery_codes_left: 10,
    });
    const text = JSON.stringify(exported);
    expect(text).not.toContain(secret);
    expect(text).not.toContain(someone.credentialId);
    for (const code of (confirmed.ok && confirmed.recoveryCodes) || []) expect(text).not.toContain(code);

    expect(await running.services.ownAccount.deletion.deleteAccount(someone.id, someone.actor)).toBe(true);
    const { prisma } = running.db;
    expect(await prisma.passkey.count({ where: { userId: someone.id } })).toBe(0);
    expect(await prisma.totpFactor.count({ where: { userId: someone.id } })).toBe(0);
    expect(await prisma.recoveryCode.count({ where: { userId: someone.id } })).toBe(0);
  });
});
