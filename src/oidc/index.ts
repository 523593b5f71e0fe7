export * from './adapter.ts';
export * from './signingKeys.ts';
export * from './provider.ts';
export * from './liveProvider.ts';
export * from './jwks.ts';
export * from './keyService.ts';
