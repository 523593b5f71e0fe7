// The audit log's one input from outside: a query of events.
import { z } from 'zod';
import { text, timestamp } from '../oauth/index.ts';

export const auditQuerySchema = z.object({
  since: timestamp.optional().describe('events at or after this instant'),
  until: timestamp.optional().describe('events at or before this instant'),
  type: text(100).optional(),
  actor: text(200).optional().describe('the id of who acted'),
  subject: text(200).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: text(100).optional().describe('next_cursor of the previous page'),
});
export type AuditQuery = z.input<typeof auditQuerySchema>;
