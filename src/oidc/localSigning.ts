// oidc-provider's signing keys as ExternalSigningKey objects that sign in this thread with
// node:crypto. Why: with a private JWK, oidc-provider signs through jose, which uses WebCrypto,
// and Node runs each WebCrypto signature as a job on the libuv thread pool; measured here for
// one ES256 JWT, about 130 µs of CPU (main thread and pool) against 25 µs for crypto.sign on
// the same key, and the pool competes for the same cores as the main thread. Every
// client-credentials token, ID token and exchanged API key is one signature. Same keys, same
// algorithms, same JWS bytes to a verifier: only where the signature is computed changes.
import crypto from 'node:crypto';
import type { JWK } from 'jose';
import { ExternalSigningKey } from 'oidc-provider';

/** The JWS algorithms Portcullis signs with (src/keys: ES256 or RS256), as node:crypto computes them. */
const SIGNERS: Record<string, (data: Uint8Array, key: crypto.KeyObject) => Buffer> = {
  // RFC 7518 section 3.4: the JWS signature of ES256 is R || S, not DER.
  ES256: (data, key) => crypto.sign('sha256', data, { key, dsaEncoding: 'ieee-p1363' }),
  // RFC 7518 section 3.3: RSASSA-PKCS1-v1_5 with SHA-256.
  RS256: (data, key) => crypto.sign('sha256', data, key),
};

class LocalSigningKey extends ExternalSigningKey {
  readonly #privateKey: crypto.KeyObject;
  readonly #publicKey: crypto.KeyObject;
  readonly #sign: (data: Uint8Array, key: crypto.KeyObject) => Buffer;

  constructor(jwk: JWK & { kid: string; alg: string }) {
    super();
    const sign = SIGNERS[jwk.alg];
    if (!sign) throw new Error(`signing key ${jwk.kid} has algorithm ${jwk.alg}, which Portcullis does not sign with`);
    this.#sign = sign;
    this.#privateKey = crypto.createPrivateKey({ key: jwk as crypto.JsonWebKey, format: 'jwk' });
    this.#publicKey = crypto.createPublicKey(this.#privateKey);
    // ExternalSigningKey keeps kid and alg in setters its type declarations leave out.
    Object.assign(this, { kid: jwk.kid, alg: jwk.alg });
  }

  override keyObject(): crypto.KeyObject {
    return this.#publicKey;
  }

  override sign(data: Uint8Array): Buffer {
    return this.#sign(data, this.#privateKey);
  }
}

/**
 * The `jwks` option for oidc-provider from Portcullis's private JWKs, in the same order (it signs
 * with the first key of an algorithm). Needs `features.externalSigningSupport`.
 */
export function localSigningKeys(privateJwks: { keys: JWK[] }): { keys: ExternalSigningKey[] } {
  return { keys: privateJwks.keys.map((jwk) => new LocalSigningKey(jwk as JWK & { kid: string; alg: string })) };
}

/**
 * oidc-provider's experimental flag for ExternalSigningKey, acknowledged at the version this was
 * written against: a newer oidc-provider that changes the experiment refuses to start until it
 * is looked at again, rather than signing differently.
 */
export const EXTERNAL_SIGNING_FEATURE = { enabled: true, ack: 'experimental-01' } as const;
