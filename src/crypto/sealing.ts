// Sealing: AES-256-GCM under a key derived (HKDF-SHA256) from a bearer value and the pepper.
// What is sealed with a token id can be read back only by someone who presents that id, so a
// database dump that holds only the id's hash cannot read it.
import crypto from 'node:crypto';

const VERSION = 'v1';

function deriveKey(secret: string, pepper: string, context: string): Buffer {
  return Buffer.from(crypto.hkdfSync('sha256', secret, pepper, `portcullis:${context}`, 32));
}

/** Encrypts `plaintext` so that only a holder of `secret` (and the pepper) can read it. */
export function seal(secret: string, pepper: string, context: string, plaintext: string): string {
  const iv = crypto.randomBytes(12);
  const cipher = crypto.createCipheriv('aes-256-gcm', deriveKey(secret, pepper, context), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

/** Reverses `seal`. Returns undefined when the secret, context or data do not match. */
export function unseal(secret: string, pepper: string, context: string, sealed: string): string | undefined {
  const [version, iv, ciphertext, tag] = sealed.split('.');
  if (version !== VERSION || !iv || ciphertext === undefined || !tag) return undefined;
  try {
    const decipher = crypto.createDecipheriv('aes-256-gcm', deriveKey(secret, pepper, context), Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}
