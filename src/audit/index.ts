export * from './audit.ts';
export * from './aggregate.ts';
