export * from './grants.ts';
