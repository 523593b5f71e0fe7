// Small cryptographic libraries: random secrets and keyed hashes, sealing, key encryption, passwords.
export { KeyEncryptionError, decryptPrivateJwk, encryptPrivateJwk } from './keyEncryption.ts';
export { hashPassword, passwordNeedsRehash, verifyPassword } from './passwords.ts';
export { seal, unseal } from './sealing.ts';
export { constantTimeEqual, keyedHash, randomSecret } from './secrets.ts';
