// DPoP proofs (RFC 9449) that no client library will make: each breaks one rule of section 4.3,
// so a test can send every one to an endpoint and expect each refused for that rule alone.
// Made with jose; the control (`handmadeProof` with no changes) is a proof done right.
import { base64url, exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface ProofOptions {
  /** Header parameters to set or override (alg, typ, jwk). */
  header?: Record<string, unknown>;
  /** The key that signs, when not the one whose public half is in the header. */
  signingKey?: Parameters<SignJWT['sign']>[0];
}

const now = () => Math.floor(Date.now() / 1000);

/** A proof for `htm` `htu` with the claims as given, signed by a fresh ES256 key (or `signingKey`). */
export async function handmadeProof(htu: string, payload: Record<string, unknown> = {}, { header, signingKey }: ProofOptions = {}) {
  const { privateKey, publicKey } = await generateKeyPair('ES256');
  return new SignJWT({ htm: 'POST', htu, jti: crypto.randomUUID(), iat: now(), ...payload })
    .setProtectedHeader({ alg: 'ES256', typ: 'dpop+jwt', jwk: await exportJWK(publicKey), ...header })
    .sign(signingKey ?? privateKey);
}

export interface BadProof {
  fault: string;
  proof: string;
  /**
   * The error it gets. With nonces configured (Portcullis always configures them), a proof whose
   * iat is outside the window is answered `use_dpop_nonce` with a fresh DPoP-Nonce (section 8:
   * "prove it is fresh with my nonce"), not `invalid_dpop_proof`.
   */
  error: 'invalid_dpop_proof' | 'use_dpop_nonce';
}

/** One proof per rule of RFC 9449 section 4.3, each for `htu` with POST, broken in that rule only. */
export async function badProofs(htu: string): Promise<BadProof[]> {
  const { publicKey } = await generateKeyPair('ES256');
  const secret = crypto.getRandomValues(new Uint8Array(32));
  const { privateKey: exportable } = await generateKeyPair('ES256', { extractable: true });
  const { privateKey: otherKey } = await generateKeyPair('ES256');
  const encode = (value: object) => base64url.encode(JSON.stringify(value));
  const unsigned = `${encode({ alg: 'none', typ: 'dpop+jwt', jwk: await exportJWK(publicKey) })}.${encode({
    htm: 'POST',
    htu,
    jti: crypto.randomUUID(),
    iat: now(),
  })}.`;
  return [
    { fault: 'not a JWT', proof: 'not-a-proof', error: 'invalid_dpop_proof' },
    {
      fault: 'typ is JWT, not dpop+jwt (check 4)',
      proof: await handmadeProof(htu, {}, { header: { typ: 'JWT' } }),
      error: 'invalid_dpop_proof',
    },
    { fault: 'alg none (check 5)', proof: unsigned, error: 'invalid_dpop_proof' },
    {
      fault: 'HS256 with a symmetric jwk (check 5)',
      proof: await handmadeProof(
        htu,
        {},
        { header: { alg: 'HS256', jwk: { kty: 'oct', k: base64url.encode(secret) } }, signingKey: secret },
      ),
      error: 'invalid_dpop_proof',
    },
    {
      fault: 'signed by another key (check 6)',
      proof: await handmadeProof(htu, {}, { signingKey: otherKey }),
      error: 'invalid_dpop_proof',
    },
    {
      fault: 'a private key in jwk (check 7)',
      proof: await handmadeProof(htu, {}, { header: { jwk: await exportJWK(exportable) }, signingKey: exportable }),
      error: 'invalid_dpop_proof',
    },
    { fault: 'htm GET (check 8)', proof: await handmadeProof(htu, { htm: 'GET' }), error: 'invalid_dpop_proof' },
    {
      fault: 'htu of another endpoint (check 9)',
      proof: await handmadeProof(htu, { htu: new URL('/me', htu).href }),
      error: 'invalid_dpop_proof',
    },
    { fault: 'no jti (check 2)', proof: await handmadeProof(htu, { jti: undefined }), error: 'invalid_dpop_proof' },
    { fault: 'iat ten minutes ago (check 11)', proof: await handmadeProof(htu, { iat: now() - 600 }), error: 'use_dpop_nonce' },
    { fault: 'iat ten minutes ahead (check 11)', proof: await handmadeProof(htu, { iat: now() + 600 }), error: 'use_dpop_nonce' },
    { fault: 'a nonce the server never issued (check 10)', proof: await handmadeProof(htu, { nonce: 'made-up' }), error: 'use_dpop_nonce' },
  ];
}

/** Two proofs in two DPoP fields: HTTP joins them into one value (RFC 9110 section 5.3), which is no JWT. */
export async function twoProofs(htu: string): Promise<string[]> {
  return [await handmadeProof(htu), await handmadeProof(htu)];
}
