export { CHECKSUM_LENGTH, generateApiKey, looksLikeApiKey, parseApiKey, RANDOM_LENGTH } from './format.ts';
export { createApiKeyService, type ApiKeyService, type ApiKeySummary, type VerifiedApiKey } from './service.ts';
