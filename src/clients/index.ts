export { CLIENT_CACHE_MS, createClientService, type ClientService, type ClientSummary } from './clients.ts';
