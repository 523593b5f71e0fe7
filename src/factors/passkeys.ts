// Passkeys (WebAuthn, through @simplewebauthn/server): registering one, and answering a sign-in
// with one, as a second factor (the person is known: only their passkeys count) or alone
// (passwordless: a discoverable credential, user verification required, its owner must exist and
// be enabled). The relying party is the issuer: its hostname is the rp id, its origin the only
// origin accepted.
//
// A challenge is good once, for five minutes, for the ceremony it was made for: it is stored as
// a keyed hash with its purpose, its person (when known) and a keyed hash of the interaction's or
// session's uid, and answering deletes the row (one statement; of two answers, one finds it). The
// challenge is read from the browser's clientDataJSON, and the library checks it is the one
// signed. The signature counter is updated conditioned on the value read, and a counter that did
// not go up (a cloned authenticator) is refused.
import crypto from 'node:crypto';
import {
  generateAuthenticationOptions,
  generateRegistrationOptions,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
  type AuthenticationResponseJSON,
  type RegistrationResponseJSON,
} from '@simplewebauthn/server';
import { z } from 'zod';
import { actorFields, type Actor, type AuditLog } from '../audit/index.ts';
import { keyedHash } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { hasControlCharacters, isStorableText } from '../oauth/index.ts';
import type { RecoveryCodes } from './recoveryCodes.ts';
import type { CeremonyBinding, Enrolled, PasskeyCheck, PasskeySummary } from './types.ts';

/** How long a browser has to answer a challenge. */
export const CHALLENGE_SECONDS = 5 * 60;
/** The longest name a passkey may be given, in characters as people count them. */
export const MAX_PASSKEY_NAME_LENGTH = 60;
/** The longest response read (a WebAuthn answer is a few kilobytes). */
const MAX_RESPONSE_LENGTH = 12_000;

const NOT_ONE_LINE = /[\u0080-\u009f\u2028\u2029]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

const base64url = z
  .string()
  .min(1)
  .max(8_000)
  .regex(/^[A-Za-z0-9_-]+={0,2}$/);
const extensions = z.record(z.string(), z.unknown()).optional().default({});
const registrationSchema = z.looseObject({
  id: base64url,
  rawId: base64url,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: extensions,
  response: z.looseObject({
    clientDataJSON: base64url,
    attestationObject: base64url,
    transports: z.array(z.string().max(40)).max(10).optional(),
  }),
});
const authenticationSchema = z.looseObject({
  id: base64url,
  rawId: base64url,
  type: z.literal('public-key'),
  authenticatorAttachment: z.enum(['platform', 'cross-platform']).optional(),
  clientExtensionResults: extensions,
  response: z.looseObject({
    clientDataJSON: base64url,
    authenticatorData: base64url,
    signature: base64url,
    userHandle: base64url.optional(),
  }),
});
const clientDataSchema = z.looseObject({ challenge: base64url });

/** The browser's answer, parsed, and the challenge its client data names; undefined when it is not one. */
function parseResponse<T>(schema: z.ZodType<T>, response: unknown): { value: T; challenge: string } | undefined {
  if (typeof response !== 'string' || response.length > MAX_RESPONSE_LENGTH) return undefined;
  try {
    const parsed = schema.safeParse(JSON.parse(response));
    if (!parsed.success) return undefined;
    const { response: inner } = parsed.data as { response: { clientDataJSON: string } };
    const clientData = clientDataSchema.safeParse(JSON.parse(Buffer.from(inner.clientDataJSON, 'base64url').toString('utf8')));
    return clientData.success ? { value: parsed.data, challenge: clientData.data.challenge } : undefined;
  } catch {
    return undefined;
  }
}

/** A passkey's name as given (trimmed; a default when empty), or undefined when it cannot be one. */
export function passkeyName(name: string, now = new Date()): string | undefined {
  const trimmed = typeof name === 'string' ? name.trim() : '';
  if (!trimmed) return `Passkey ${now.toISOString().slice(0, 10)}`;
  if (!isStorableText(trimmed) || hasControlCharacters(trimmed) || NOT_ONE_LINE.test(trimmed)) return undefined;
  if ([...trimmed].length > MAX_PASSKEY_NAME_LENGTH) return undefined;
  return trimmed;
}

/** The WebAuthn user handle of a person: the bytes of their account id, the same for every passkey. */
const userHandleOf = (userId: string) => new TextEncoder().encode(userId);

/** Synced (a multi-device credential, or one backed up) counts as `swk`; bound to its device, `hwk`. */
const isSynced = (deviceType: string, backedUp: boolean) => deviceType === 'multiDevice' || backedUp;

export interface PasskeyOptions {
  prisma: Prisma;
  pepper: string;
  issuer: string;
  /** The name authenticators show for the relying party (the brand). */
  rpName: string;
  audit: AuditLog;
  recoveryCodes: RecoveryCodes;
}

type PasskeyRow = Awaited<ReturnType<Prisma['passkey']['findMany']>>[number];

export const passkeySummary = (row: PasskeyRow): PasskeySummary => ({
  id: row.id,
  name: row.name,
  synced: isSynced(row.deviceType, row.backedUp),
  createdAt: row.createdAt,
  lastUsedAt: row.lastUsedAt,
});

export function createPasskeys({ prisma, pepper, issuer, rpName, audit, recoveryCodes }: PasskeyOptions) {
  const { hostname: rpID, origin } = new URL(issuer);
  const challengeHash = (challenge: string) => keyedHash(pepper, `webauthn-challenge:${challenge}`);
  const bindingHash = (binding: CeremonyBinding) => keyedHash(pepper, `webauthn-binding:${binding.kind}:${binding.uid}`);

  async function remember(challenge: string, purpose: 'register' | 'authenticate', binding: CeremonyBinding, userId: string | null) {
    await prisma.webAuthnChallenge.create({
      data: {
        challengeHash: challengeHash(challenge),
        purpose,
        userId,
        binding: bindingHash(binding),
        expiresAt: new Date(Date.now() + CHALLENGE_SECONDS * 1000),
      },
    });
  }

  /** Uses the live challenge of this purpose, binding and person: true for the one request that finds it. */
  async function consume(challenge: string, purpose: 'register' | 'authenticate', binding: CeremonyBinding, userId: string | null) {
    const { count } = await prisma.webAuthnChallenge.deleteMany({
      where: { challengeHash: challengeHash(challenge), purpose, binding: bindingHash(binding), userId, expiresAt: { gt: new Date() } },
    });
    return count === 1;
  }

  const ofPerson = (userId: string) => prisma.passkey.findMany({ where: { userId }, orderBy: { createdAt: 'asc' } });
  const transportsOf = (row: PasskeyRow) => (row.transports ? row.transports.split(' ') : []);

  return {
    async registrationOptions(user: { id: string; email: string; name: string | null }, binding: CeremonyBinding): Promise<unknown> {
      const options = await generateRegistrationOptions({
        rpName,
        rpID,
        userName: user.email,
        userID: userHandleOf(user.id),
        userDisplayName: user.name ?? user.email,
        timeout: CHALLENGE_SECONDS * 1000,
        attestationType: 'none',
        excludeCredentials: (await ofPerson(user.id)).map((row) => ({ id: row.credentialId, transports: transportsOf(row) })),
        // Discoverable, so the same passkey also signs in without a password.
        authenticatorSelection: { residentKey: 'required', requireResidentKey: true, userVerification: 'preferred' },
      });
      await remember(options.challenge, 'register', binding, user.id);
      return options;
    },

    async register(userId: string, response: string, name: string, binding: CeremonyBinding, actor: Actor): Promise<Enrolled> {
      const givenName = passkeyName(name);
      if (givenName === undefined) return { ok: false, problem: 'name' };
      const parsed = parseResponse(registrationSchema, response);
      if (!parsed) return { ok: false, problem: 'malformed' };
      if (!(await consume(parsed.challenge, 'register', binding, userId))) return { ok: false, problem: 'expired_challenge' };
      let verified;
      try {
        verified = await verifyRegistrationResponse({
          response: parsed.value as RegistrationResponseJSON,
          expectedChallenge: parsed.challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          requireUserVerification: false,
        });
      } catch {
        return { ok: false, problem: 'invalid_response' };
      }
      if (!verified.verified) return { ok: false, problem: 'invalid_response' };
      const { credential, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
      if (await prisma.passkey.findUnique({ where: { credentialId: credential.id }, select: { id: true } }))
        return { ok: false, problem: 'invalid_response' };
      const id = crypto.randomUUID();
      const codes = await prisma.$transaction(async (tx) => {
        await tx.passkey.create({
          data: {
            id,
            userId,
            credentialId: credential.id,
            publicKey: Buffer.from(credential.publicKey).toString('base64url'),
            counter: BigInt(credential.counter),
            transports: (credential.transports ?? parsed.value.response.transports ?? []).join(' '),
            deviceType: credentialDeviceType,
            backedUp: credentialBackedUp,
            name: givenName,
          },
        });
        return recoveryCodes.issueIfNone(tx as Prisma, userId);
      });
      const synced = isSynced(credentialDeviceType, credentialBackedUp);
      await audit.record({
        type: 'mfa.passkey.registered',
        ...actorFields(actor),
        subject: userId,
        outcome: 'success',
        details: { passkey_id: id, synced },
      });
      if (codes) await recoveryCodes.recordGenerated(userId, actor);
      return { ok: true, method: synced ? 'swk' : 'hwk', ...(codes ? { recoveryCodes: codes } : {}) };
    },

    async authenticationOptions(binding: CeremonyBinding, userId?: string): Promise<unknown> {
      const options = await generateAuthenticationOptions({
        rpID,
        timeout: CHALLENGE_SECONDS * 1000,
        ...(userId
          ? {
              allowCredentials: (await ofPerson(userId)).map((row) => ({ id: row.credentialId, transports: transportsOf(row) })),
              userVerification: 'preferred' as const,
            }
          : { userVerification: 'required' as const }),
      });
      await remember(options.challenge, 'authenticate', binding, userId ?? null);
      return options;
    },

    async authenticate(response: string, binding: CeremonyBinding, userId?: string): Promise<PasskeyCheck> {
      const parsed = parseResponse(authenticationSchema, response);
      if (!parsed) return { ok: false, problem: 'malformed' };
      if (!(await consume(parsed.challenge, 'authenticate', binding, userId ?? null))) return { ok: false, problem: 'expired_challenge' };
      const row = await prisma.passkey.findUnique({ where: { credentialId: parsed.value.id } });
      // A credential of one person never answers for another.
      if (!row || (userId !== undefined && row.userId !== userId)) return { ok: false, problem: 'unknown_credential' };
      const owner = await prisma.user.findUnique({ where: { id: row.userId }, select: { disabled: true } });
      if (!owner || owner.disabled) return { ok: false, problem: 'unknown_credential' };
      // A discoverable credential names its person; it must be the one it was registered for.
      const { userHandle } = parsed.value.response;
      if (userHandle !== undefined && userHandle !== Buffer.from(userHandleOf(row.userId)).toString('base64url'))
        return { ok: false, problem: 'invalid_response' };
      let verified;
      try {
        verified = await verifyAuthenticationResponse({
          response: parsed.value as AuthenticationResponseJSON,
          expectedChallenge: parsed.challenge,
          expectedOrigin: origin,
          expectedRPID: rpID,
          credential: {
            id: row.credentialId,
            publicKey: new Uint8Array(Buffer.from(row.publicKey, 'base64url')),
            counter: Number(row.counter),
            transports: transportsOf(row),
          },
          requireUserVerification: userId === undefined,
        });
      } catch {
        return { ok: false, problem: 'invalid_response' };
      }
      if (!verified.verified) return { ok: false, problem: 'invalid_response' };
      const { newCounter, credentialDeviceType, credentialBackedUp, userVerified } = verified.authenticationInfo;
      // A counting authenticator must count up; a counter that did not is a clone's (the library refuses it too).
      if (newCounter !== 0 && BigInt(newCounter) <= row.counter) return { ok: false, problem: 'invalid_response' };
      const { count } = await prisma.passkey.updateMany({
        where: { id: row.id, counter: row.counter },
        data: { counter: BigInt(newCounter), lastUsedAt: new Date(), backedUp: credentialBackedUp, deviceType: credentialDeviceType },
      });
      if (count !== 1) return { ok: false, problem: 'invalid_response' };
      return {
        ok: true,
        userId: row.userId,
        passkeyId: row.id,
        method: isSynced(credentialDeviceType, credentialBackedUp) ? 'swk' : 'hwk',
        userVerified,
      };
    },

    async list(userId: string): Promise<PasskeySummary[]> {
      return (await ofPerson(userId)).map(passkeySummary);
    },

    async remove(userId: string, passkeyId: string, actor: Actor): Promise<boolean> {
      if (typeof passkeyId !== 'string' || passkeyId.length > 100) return false;
      const { count } = await prisma.passkey.deleteMany({ where: { id: passkeyId, userId } });
      if (count === 0) return false;
      await audit.record({
        type: 'mfa.passkey.removed',
        ...actorFields(actor),
        subject: userId,
        outcome: 'success',
        details: { passkey_id: passkeyId },
      });
      return true;
    },
  };
}
