// Private keys at rest: a private JWK is stored as a compact JWE (alg "dir", enc "A256GCM")
// under the key-encryption key (KEK) from configuration. jose does the JOSE.
import crypto from 'node:crypto';
import { CompactEncrypt, compactDecrypt, decodeProtectedHeader, type JWK } from 'jose';

/** Names a KEK without revealing it, so a wrong KEK is reported as such, not as corrupt data. */
export function keyEncryptionKeyId(kek: Uint8Array): string {
  return crypto.createHash('sha256').update('portcullis-kek').update(kek).digest('base64url').slice(0, 16);
}

export class KeyEncryptionError extends Error {
  readonly code = 'ERR_KEY_ENCRYPTION';
}

export async function encryptPrivateJwk(kek: Uint8Array, jwk: JWK): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(JSON.stringify(jwk)))
    .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', cty: 'jwk+json', kid: keyEncryptionKeyId(kek) })
    .encrypt(kek);
}

export async function decryptPrivateJwk(kek: Uint8Array, jwe: string): Promise<JWK> {
  const { kid } = decodeProtectedHeader(jwe);
  if (kid !== keyEncryptionKeyId(kek)) {
    throw new KeyEncryptionError(
      `signing key was encrypted with another KEY_ENCRYPTION_KEY (id ${String(kid)}, configured ${keyEncryptionKeyId(kek)})`,
    );
  }
  const { plaintext } = await compactDecrypt(jwe, kek);
  return JSON.parse(new TextDecoder().decode(plaintext)) as JWK;
}
