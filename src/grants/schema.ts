// The inputs of the grant service: which grants, by person or client or both.
import { z } from 'zod';
import { text } from '../oauth/index.ts';

export const grantFilterSchema = z.object({
  account_id: text(200).optional().describe("the person's user id"),
  client_id: text(200).optional(),
});
export type GrantFilter = z.input<typeof grantFilterSchema>;
