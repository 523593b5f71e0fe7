// Signing keys: their life, their storage, and what oidc-provider is built with.
//
// Life of a key: next -> current -> previous -> retired.
// - `next` is published in the JWKS but signs nothing, so verifiers have it cached before it is
//   used: it becomes current only after being published for at least the JWKS cache lifetime;
// - `current` is the one key that signs;
// - `previous` is still published, so tokens it signed keep verifying until they expire;
// - `retired` is no longer published (kept for the record; its private part stays encrypted).
// The private JWK is stored only as a JWE under the key-encryption key (src/crypto).
import crypto from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { decryptPrivateJwk, encryptPrivateJwk } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';
import { ConflictError, PortcullisError } from '../errors/index.ts';

export type SigningAlg = 'ES256' | 'RS256';
export type KeyState = 'next' | 'current' | 'previous' | 'retired';
/** Published states, in the order oidc-provider should see them: it signs with the first key of an algorithm. */
const PUBLISHED: KeyState[] = ['current', 'next', 'previous'];

export interface SigningKeySummary {
  kid: string;
  alg: string;
  state: KeyState;
  created_at: string;
  activated_at: string | null;
  deactivated_at: string | null;
  retired_at: string | null;
}

export interface KeyTiming {
  /** How long verifiers may cache the JWKS: a next key must be published this long before it signs. */
  jwksMaxAgeSeconds: number;
  /** The longest lifetime of anything a key signs: a previous key stays published this long. */
  maxSignedLifetimeSeconds: number;
}

export class KeyRotationError extends PortcullisError {
  constructor(message: string) {
    super('key_rotation_refused', 409, message);
  }
}

/** Makes a new key pair; returns its private JWK with kid (the RFC 7638 thumbprint), alg and use. */
export async function generateSigningJwk(alg: SigningAlg): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' };
}

export function publicJwk(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...rest } = jwk;
  return rest;
}

type Tx = Parameters<Parameters<Prisma['$transaction']>[0]>[0];

async function storeSigningKey(db: Prisma | Tx, kek: Uint8Array, jwk: JWK, state: KeyState, now = new Date()): Promise<void> {
  await db.signingKey.create({
    data: {
      kid: jwk.kid!,
      alg: jwk.alg!,
      state,
      publicJwk: publicJwk(jwk) as object,
      privateJwkEncrypted: await encryptPrivateJwk(kek, jwk),
      createdAt: now,
      slot: state === 'current' || state === 'next' ? state : null,
      ...(state === 'current' ? { activatedAt: now } : {}),
    },
  });
}

/** Prisma's code for a unique-constraint violation. */
const isUniqueViolation = (error: unknown) => (error as { code?: string } | null)?.code === 'P2002';

/**
 * Makes sure there is a current key and a next key, creating what is missing. On a fresh
 * database this is the first start's work. Returns the kids it created.
 */
export async function ensureSigningKeys(prisma: Prisma, kek: Uint8Array, alg: SigningAlg): Promise<string[]> {
  const created: string[] = [];
  for (const state of ['current', 'next'] as const) {
    if ((await prisma.signingKey.count({ where: { state } })) > 0) continue;
    const jwk = await generateSigningJwk(alg);
    try {
      await storeSigningKey(prisma, kek, jwk, state);
      created.push(jwk.kid!);
    } catch (error) {
      // Another instance starting at the same moment took the slot first: use its key.
      if (!isUniqueViolation(error)) throw error;
    }
  }
  return created;
}

export interface LoadedKeys {
  /** Private JWKS for oidc-provider: current first (it signs with the first key of an algorithm), then next, then previous. */
  privateJwks: { keys: JWK[] };
  /** What the JWKS endpoint publishes. */
  publicJwks: { keys: JWK[] };
  signing: { kid: string; alg: string };
  /** Changes whenever a key is added or changes state; instances poll it to notice rotations. */
  version: string;
}

function versionOf(rows: { kid: string; state: string }[]): string {
  const described = [...rows].sort((a, b) => a.kid.localeCompare(b.kid)).map((row) => `${row.kid}:${row.state}`);
  return crypto.createHash('sha256').update(described.join(',')).digest('base64url');
}

export async function keySetVersion(prisma: Prisma): Promise<string> {
  return versionOf(await prisma.signingKey.findMany({ where: { state: { in: PUBLISHED } }, select: { kid: true, state: true } }));
}

export async function loadSigningKeys(prisma: Prisma, kek: Uint8Array): Promise<LoadedKeys> {
  const rows = await prisma.signingKey.findMany({ where: { state: { in: PUBLISHED } } });
  const rank = (row: (typeof rows)[number]) => PUBLISHED.indexOf(row.state as KeyState);
  rows.sort(
    (a, b) =>
      rank(a) - rank(b) || (b.activatedAt?.getTime() ?? b.createdAt.getTime()) - (a.activatedAt?.getTime() ?? a.createdAt.getTime()),
  );
  const current = rows.find((row) => row.state === 'current');
  if (!current) throw new PortcullisError('no_signing_key', 503, 'there is no current signing key');
  const privateKeys = await Promise.all(rows.map((row) => decryptPrivateJwk(kek, row.privateJwkEncrypted)));
  return {
    privateJwks: { keys: privateKeys },
    publicJwks: { keys: privateKeys.map(publicJwk) },
    signing: { kid: current.kid, alg: current.alg },
    version: versionOf(rows),
  };
}

/** Retires previous keys whose every signed token has expired. Returns their kids. */
export async function retireExpiredKeys(prisma: Prisma | Tx, timing: KeyTiming, now = new Date()): Promise<string[]> {
  const cutoff = new Date(now.getTime() - timing.maxSignedLifetimeSeconds * 1000);
  const expired = await prisma.signingKey.findMany({ where: { state: 'previous', deactivatedAt: { lt: cutoff } }, select: { kid: true } });
  if (expired.length) {
    await prisma.signingKey.updateMany({
      where: { kid: { in: expired.map((k) => k.kid) }, state: 'previous' },
      data: { state: 'retired', retiredAt: now },
    });
  }
  return expired.map((key) => key.kid);
}

export interface RotationResult {
  current: string;
  next: string;
  previous: string;
  retired: string[];
}

/**
 * Promotes next to current and current to previous, makes a new next key, and retires previous
 * keys that nothing valid was signed with. Refuses (KeyRotationError) while the next key has
 * been published for less than the JWKS cache lifetime, unless `force` (for a compromised key:
 * verifiers holding a cached JWKS will reject new tokens until their cache expires).
 * Safe against concurrent rotations: each state change is conditioned on the state it read.
 */
export async function rotateSigningKeys(
  prisma: Prisma,
  kek: Uint8Array,
  { alg, timing, force = false, now = new Date() }: { alg: SigningAlg; timing: KeyTiming; force?: boolean; now?: Date },
): Promise<RotationResult> {
  const newNext = await generateSigningJwk(alg);
  const encrypted = await encryptPrivateJwk(kek, newNext);
  try {
    return await rotateInTransaction(prisma, newNext, encrypted, { alg, timing, force, now });
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('the keys were rotated by someone else at the same time');
    throw error;
  }
}

async function rotateInTransaction(
  prisma: Prisma,
  newNext: JWK,
  encrypted: string,
  { alg, timing, force, now }: { alg: SigningAlg; timing: KeyTiming; force: boolean; now: Date },
): Promise<RotationResult> {
  return prisma.$transaction(async (tx) => {
    const currents = await tx.signingKey.findMany({ where: { state: 'current' }, orderBy: { activatedAt: 'desc' } });
    const current = currents[0];
    const next = await tx.signingKey.findFirst({ where: { state: 'next' }, orderBy: { createdAt: 'asc' } });
    if (!current || !next)
      throw new KeyRotationError('there must be a current and a next key to rotate; start the server once to create them');
    const publishedSeconds = (now.getTime() - next.createdAt.getTime()) / 1000;
    if (!force && publishedSeconds < timing.jwksMaxAgeSeconds) {
      throw new KeyRotationError(
        `the next key ${next.kid} has been published for ${Math.floor(publishedSeconds)} s; it may sign only after ${timing.jwksMaxAgeSeconds} s ` +
          `(the JWKS cache lifetime plus one key poll interval), so every verifier already has it. Try again later, or use --force for a compromised key.`,
      );
    }
    const demoted = await tx.signingKey.updateMany({
      where: { kid: { in: currents.map((key) => key.kid) }, state: 'current' },
      data: { state: 'previous', deactivatedAt: now, slot: null },
    });
    const promoted = await tx.signingKey.updateMany({
      where: { kid: next.kid, state: 'next' },
      data: { state: 'current', activatedAt: now, slot: 'current' },
    });
    if (demoted.count !== currents.length || promoted.count !== 1)
      throw new ConflictError('the keys were rotated by someone else at the same time');
    await tx.signingKey.create({
      data: {
        kid: newNext.kid!,
        alg,
        state: 'next',
        slot: 'next',
        publicJwk: publicJwk(newNext) as object,
        privateJwkEncrypted: encrypted,
        createdAt: now,
      },
    });
    const retired = await retireExpiredKeys(tx, timing, now);
    return { current: next.kid, next: newNext.kid!, previous: current.kid, retired };
  });
}

export async function listSigningKeys(prisma: Prisma): Promise<SigningKeySummary[]> {
  const rows = await prisma.signingKey.findMany({ orderBy: { createdAt: 'asc' } });
  return rows.map((row) => ({
    kid: row.kid,
    alg: row.alg,
    state: row.state as KeyState,
    created_at: row.createdAt.toISOString(),
    activated_at: row.activatedAt?.toISOString() ?? null,
    deactivated_at: row.deactivatedAt?.toISOString() ?? null,
    retired_at: row.retiredAt?.toISOString() ?? null,
  }));
}
