// Signing keys: their states and rotation, the service the surfaces share, the JWKS endpoint.
export { jwksEndpoint } from './jwks.ts';
export { createKeyService, maxSignedLifetimeSeconds, type KeyService } from './service.ts';
export { ensureSigningKeys, keySetVersion, loadSigningKeys, publicJwk, type LoadedKeys, type SigningKeySummary } from './signingKeys.ts';
export { keyRotateSchema, type KeyRotateInput } from './schema.ts';
