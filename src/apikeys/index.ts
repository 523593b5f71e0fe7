// API keys: the format, the service, and the schemas of its inputs.
export { CHECKSUM_LENGTH, generateApiKey, looksLikeApiKey, parseApiKey, RANDOM_LENGTH } from './format.ts';
export {
  apiKeyCreateSchema,
  apiKeyRotateSchema,
  MAX_KEY_SECONDS,
  MIN_KEY_SECONDS,
  type ApiKeyCreateInput,
  type ApiKeyRotateInput,
} from './schema.ts';
export { createApiKeyService, type ApiKeyService, type ApiKeySummary, type VerifiedApiKey } from './service.ts';
