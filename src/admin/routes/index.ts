// Every admin API route, in the order the OpenAPI document lists them: one table per resource.
import type { AdminRoute } from '../route.ts';
import { apiKeyRoutes } from './apiKeys.ts';
import { auditRoutes } from './audit.ts';
import { clientRoutes } from './clients.ts';
import { connectionRoutes } from './connections.ts';
import { grantRoutes } from './grants.ts';
import { organizationRoutes } from './organizations.ts';
import { resourceRoutes } from './resources.ts';
import { registrationTokenRoutes } from './registrationTokens.ts';
import { roleRoutes } from './roles.ts';
import { signingKeyRoutes } from './signingKeys.ts';
import { userRoutes } from './users.ts';

export const adminRoutes: readonly AdminRoute[] = [
  ...clientRoutes,
  ...registrationTokenRoutes,
  ...userRoutes,
  ...connectionRoutes,
  ...resourceRoutes,
  ...roleRoutes,
  ...organizationRoutes,
  ...apiKeyRoutes,
  ...signingKeyRoutes,
  ...grantRoutes,
  ...auditRoutes,
];
