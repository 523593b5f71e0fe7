export { createServer, type Server } from './server.ts';
