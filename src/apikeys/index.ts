export * from './format.ts';
export * from './rateLimit.ts';
export * from './service.ts';
export * from './oauth.ts';
