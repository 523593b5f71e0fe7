export { adminRoutes, createAdminRoutes } from './routes.ts';
