// Runs the portcullis CLI in-process, as a user would type it, capturing what it prints.
import { runCli } from '../../src/cli/index.ts';

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
  json<T = Record<string, unknown>>(): T;
}

export async function cli(args: string[], env: Record<string, string | undefined>, stdin = ''): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    readStdin: async () => stdin,
    env,
  });
  return { code, stdout, stderr, json: <T>() => JSON.parse(stdout) as T };
}

/** Runs a command with --json and returns what it printed; a failure throws with its stderr. */
export async function cliJson<T = Record<string, unknown>>(
  args: string[],
  env: Record<string, string | undefined>,
  stdin = '',
): Promise<T> {
  const result = await cli([...args, '--json'], env, stdin);
  if (result.code !== 0) throw new Error(`portcullis ${args.join(' ')}: ${result.stderr}`);
  return result.json<T>();
}
