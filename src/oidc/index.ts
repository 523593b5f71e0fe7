export * from './adapter.ts';
export * from './signingKeys.ts';
export * from './provider.ts';
