export { createInteractionRoutes } from './routes.ts';
