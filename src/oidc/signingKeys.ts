// Signing keys: created, stored encrypted, and loaded for oidc-provider.
//
// A key is `next` (published, not yet signing), `current` (published, signs), `previous`
// (published so tokens it signed still verify) or `retired` (not published). The private JWK
// is stored only as a JWE under the key-encryption key (src/crypto/keyEncryption.ts).
import { calculateJwkThumbprint, exportJWK, generateKeyPair, type JWK } from 'jose';
import { decryptPrivateJwk, encryptPrivateJwk } from '../crypto/index.ts';
import type { Prisma } from '../db/index.ts';

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
}

/** Makes a new key pair; returns its private JWK with kid (the RFC 7638 thumbprint), alg and use. */
export async function generateSigningJwk(alg: SigningAlg): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'RS256' ? { modulusLength: 2048 } : {}) });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, kid: await calculateJwkThumbprint(jwk), alg, use: 'sig' };
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, oth: _oth, ...rest } = jwk;
  return rest;
}

export async function storeSigningKey(prisma: Prisma, kek: Uint8Array, jwk: JWK, state: KeyState): Promise<void> {
  const now = new Date();
  await prisma.signingKey.create({
    data: {
      kid: jwk.kid!,
      alg: jwk.alg!,
      state,
      publicJwk: publicPart(jwk) as object,
      privateJwkEncrypted: await encryptPrivateJwk(kek, jwk),
      ...(state === 'current' ? { activatedAt: now } : {}),
    },
  });
}

/** Creates a current signing key when there is none. Returns the kid it created, if any. */
export async function ensureSigningKey(prisma: Prisma, kek: Uint8Array, alg: SigningAlg): Promise<string | undefined> {
  const current = await prisma.signingKey.count({ where: { state: 'current' } });
  if (current > 0) return undefined;
  const jwk = await generateSigningJwk(alg);
  await storeSigningKey(prisma, kek, jwk, 'current');
  return jwk.kid;
}

/** The private JWKS oidc-provider is built with: current key(s) first, newest first, then next, then previous. */
export async function loadSigningJwks(prisma: Prisma, kek: Uint8Array): Promise<{ keys: JWK[] }> {
  const rows = await prisma.signingKey.findMany({ where: { state: { in: PUBLISHED } }, orderBy: { createdAt: 'desc' } });
  rows.sort((a, b) => PUBLISHED.indexOf(a.state as KeyState) - PUBLISHED.indexOf(b.state as KeyState));
  return { keys: await Promise.all(rows.map((row) => decryptPrivateJwk(kek, row.privateJwkEncrypted))) };
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
  }));
}
