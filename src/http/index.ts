export * from './server.ts';
export * from './abuse.ts';
