// The admin API: the router the server mounts, the route tables (tests read them), the OpenAPI document.
export { openApiDocument } from './openapi.ts';
export type { AdminRoute } from './route.ts';
export { createAdminRoutes, type AdminRoutesOptions } from './router.ts';
export { adminRoutes } from './routes/index.ts';
