export { createTtlCache, type TtlCache } from './ttlCache.ts';
