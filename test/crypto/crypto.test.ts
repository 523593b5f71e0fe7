// The small libraries that keep secrets: keyed hashes, sealing, key encryption, passwords.
import { generateKeyPair, exportJWK } from 'jose';
import {
  constantTimeEqual,
  decryptPrivateJwk,
  encryptPrivateJwk,
  hashPassword,
  KeyEncryptionError,
  keyedHash,
  passwordNeedsRehash,
  randomSecret,
  seal,
  unseal,
  verifyPassword,
} from '../../src/crypto/index.ts';

test('randomSecret gives the requested entropy in base64url, never twice the same', () => {
  const a = randomSecret(32);
  expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
  expect(randomSecret(32)).not.toBe(a);
});

test('keyedHash depends on the pepper and the value', () => {
  const hash = keyedHash('pepper-one', 'value');
  expect(hash).toBe(keyedHash('pepper-one', 'value'));
  expect(hash).not.toBe(keyedHash('pepper-two', 'value'));
  expect(hash).not.toBe(keyedHash('pepper-one', 'valuf'));
});

test('constantTimeEqual compares exactly, whatever the lengths', () => {
  expect(constantTimeEqual('abc', 'abc')).toBe(true);
  expect(constantTimeEqual('abc', 'abd')).toBe(false);
  expect(constantTimeEqual('abc', 'abcd')).toBe(false);
  expect(constantTimeEqual('', '')).toBe(true);
});

test('sealed text opens only with the same secret, pepper and context', () => {
  const sealed = seal('token-id', 'pepper', 'AccessToken', '{"scope":"read"}');
  expect(sealed).not.toContain('read');
  expect(unseal('token-id', 'pepper', 'AccessToken', sealed)).toBe('{"scope":"read"}');
  expect(unseal('token-iD', 'pepper', 'AccessToken', sealed)).toBeUndefined();
  expect(unseal('token-id', 'pepper2', 'AccessToken', sealed)).toBeUndefined();
  expect(unseal('token-id', 'pepper', 'RefreshToken', sealed)).toBeUndefined();
  const [v, iv, data, tag] = sealed.split('.');
  // Flip the first character: the last one of base64url may carry only padding bits.
  const flipped = (data!.startsWith('A') ? 'B' : 'A') + data!.slice(1);
  expect(unseal('token-id', 'pepper', 'AccessToken', [v, iv, flipped, tag].join('.'))).toBeUndefined();
  expect(unseal('token-id', 'pepper', 'AccessToken', 'garbage')).toBeUndefined();
});

test('private JWKs round-trip through encryption and a wrong KEK is named as such', async () => {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = await exportJWK(privateKey);
  const kek = crypto.getRandomValues(new Uint8Array(32));
  const jwe = await encryptPrivateJwk(kek, jwk);
  expect(jwe).not.toContain(jwk.d);
  expect(await decryptPrivateJwk(kek, jwe)).toEqual(jwk);
  await expect(decryptPrivateJwk(crypto.getRandomValues(new Uint8Array(32)), jwe)).rejects.toBeInstanceOf(KeyEncryptionError);
});

test('passwords are argon2id with the documented parameters', async () => {
  const hash = await hashPassword('correct horse battery staple');
  expect(hash).toMatch(/^\$argon2id\$v=19\$/);
  expect(hash).toMatch(/[$,]m=19456[,$]/);
  expect(hash).toMatch(/[$,]t=2[,$]/);
  expect(hash).toMatch(/[$,]p=1[,$]/);
  expect(await verifyPassword(hash, 'correct horse battery staple')).toBe(true);
  expect(await verifyPassword(hash, 'correct horse battery stapler')).toBe(false);
  expect(await verifyPassword('not-a-hash', 'x')).toBe(false);
  expect(passwordNeedsRehash(hash)).toBe(false);
  expect(passwordNeedsRehash('$argon2id$v=19$m=4096,t=3,p=1$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG')).toBe(true);
});
