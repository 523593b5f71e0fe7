// The inputs of the grant service: which grants, by person or client or both.
import { z } from 'zod';
import { optionalText, text } from '../oauth/index.ts';

export const grantFilterSchema = z.object({
  account_id: optionalText(text(200)).describe("the person's user id"),
  client_id: optionalText(text(200)),
});
export type GrantFilter = z.input<typeof grantFilterSchema>;
