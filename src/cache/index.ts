export * from './ttlCache.ts';
