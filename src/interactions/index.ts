export * from './routes.ts';
export * from './views.ts';
export * from './scopes.ts';
