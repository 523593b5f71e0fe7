// A client's or a connection's secret, read where the file says it is (an environment variable, a
// file) at apply time. The value goes only to its service (the client service keeps its keyed hash,
// the connection service seals it); what is printed and refused names the reference, never the value.
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { clientSecretSetSchema } from '../clients/index.ts';
import { connectionCreateSchema } from '../federation/index.ts';
import { InputError } from '../errors/index.ts';
import { parseInput } from '../oauth/index.ts';
import type { SecretReference } from './schema.ts';

export interface ReadSecret {
  value: string;
  /** How the plan shows it: `(from env NAME)`, `(from file PATH)`. */
  shown: string;
}

/**
 * The rule of each kind of secret: a client's is one Portcullis checks, so it must be strong; a
 * connection's is one the upstream made (its length is the upstream's choice).
 */
const SECRET_RULES = {
  client: clientSecretSetSchema,
  connection: z.object({ client_secret: connectionCreateSchema.shape.client_secret }),
} as const;

/** The secret `reference` names; throws a message (with no secret in it) when it cannot be read or breaks its kind's rule. */
export function readSecret(
  reference: SecretReference,
  env: Record<string, string | undefined>,
  folder: string,
  kind: keyof typeof SECRET_RULES = 'client',
): ReadSecret {
  const { value, shown, where } =
    reference.from_env !== undefined ? fromEnvironment(reference.from_env, env) : fromFile(reference.from_file!, folder);
  try {
    parseInput(SECRET_RULES[kind], { client_secret: value });
  } catch (error) {
    if (error instanceof InputError)
      throw new Error(`the secret in ${where} ${error.message.slice('client_secret: '.length)}`, { cause: error });
    throw error;
  }
  return { value, shown };
}

function fromEnvironment(name: string, env: Record<string, string | undefined>) {
  const value = env[name];
  if (!value) throw new Error(`the environment variable ${name} is not set (or is empty)`);
  return { value, shown: `(from env ${name})`, where: `the environment variable ${name}` };
}

function fromFile(file: string, folder: string) {
  let text: string;
  try {
    text = fs.readFileSync(path.resolve(folder, file), 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new Error(`cannot read the secret file ${file} (${code})`, { cause: error });
  }
  // Files are written with a final newline by most tools; it is not part of the secret.
  return { value: text.replace(/\r?\n$/, ''), shown: `(from file ${file})`, where: `the file ${file}` };
}
