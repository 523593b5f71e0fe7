// The admin API's route for the audit log: events, newest first, a page at a time.
import { auditQuerySchema } from '../../audit/index.ts';
import { auditPage } from '../responses.ts';
import { defineRoute } from '../route.ts';

export const auditRoutes = [
  defineRoute({
    method: 'get',
    path: '/admin/audit-events',
    summary: 'Audit events, newest first, a page at a time',
    tag: 'audit',
    access: 'read',
    query: auditQuerySchema,
    response: auditPage,
    handler: ({ query }, s) => s.audit.query(query),
  }),
];
