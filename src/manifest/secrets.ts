// A client's secret, read where the file says it is (an environment variable, a file) at apply
// time. The value goes only to the client service, which keeps its keyed hash; what is printed
// and refused names the reference, never the value.
import fs from 'node:fs';
import path from 'node:path';
import { clientSecretSetSchema } from '../clients/index.ts';
import { InputError } from '../errors/index.ts';
import { parseInput } from '../oauth/index.ts';
import type { SecretReference } from './schema.ts';

export interface ReadSecret {
  value: string;
  /** How the plan shows it: `(from env NAME)`, `(from file PATH)`. */
  shown: string;
}

/** The secret `reference` names; throws a message (with no secret in it) when it cannot be read or is too weak. */
export function readSecret(reference: SecretReference, env: Record<string, string | undefined>, folder: string): ReadSecret {
  const { value, shown, where } =
    reference.from_env !== undefined ? fromEnvironment(reference.from_env, env) : fromFile(reference.from_file!, folder);
  try {
    parseInput(clientSecretSetSchema, { client_secret: value });
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
