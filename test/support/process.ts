// Runs Portcullis as separate processes, the way `npm start` and `npx portcullis` do, for the
// tests that must see a real start, a real CLI invocation and a real shutdown.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../..');
const main = path.join(root, 'src/cli/main.ts');
/**
 * Node itself with tsx's loader, not the `tsx` command: that one runs the program in a child
 * process, so a signal sent to it (SIGKILL above all) would not reach the server.
 */
const nodeArgs = (args: string[]) => ['--import', 'tsx', main, ...args];

/** The environment of a child: ours without jest's NODE_OPTIONS, plus `env`. */
function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _ignored, ...rest } = process.env;
  return { ...rest, ...env };
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `portcullis ARGS` to completion (bounded by `timeoutMs`). */
export function runCommand(args: string[], env: Record<string, string>, stdin = '', timeoutMs = 30_000): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(args), { cwd: root, env: childEnv(env), timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

export interface ServeProcess {
  child: ChildProcess;
  url: string;
  logs(): string;
  /**
   * Resolves once the logs match `pattern`, or after `timeoutMs` (the caller then asserts on
   * logs()): a line about something that just happened may still be in the pipe.
   */
  waitForLog(pattern: RegExp, timeoutMs?: number): Promise<void>;
  /** Sends SIGTERM and resolves with the exit code (SIGKILL after `timeoutMs`). */
  stop(timeoutMs?: number): Promise<number | null>;
}

/** Starts `portcullis serve` and resolves once it logs that it is listening. */
export function startServeProcess(env: Record<string, string>, timeoutMs = 30_000): Promise<ServeProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, nodeArgs(['serve']), { cwd: root, env: childEnv({ HOST: '127.0.0.1', ...env }) });
    let output = '';
    const exited = new Promise<number | null>((done) => child.on('exit', (code) => done(code)));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`serve did not start within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const line = output.split('\n').find((l) => l.includes('"msg":"listening"'));
      if (line) {
        clearTimeout(timer);
        resolve({
          child,
          url: (JSON.parse(line) as { url: string }).url,
          logs: () => output,
          async waitForLog(pattern, waitMs = 5000) {
            for (const deadline = Date.now() + waitMs; !pattern.test(output) && Date.now() < deadline;) {
              await new Promise((wait) => setTimeout(wait, 25));
            }
          },
          async stop(stopTimeoutMs = 10_000) {
            if (child.exitCode !== null) return child.exitCode;
            child.kill('SIGTERM');
            const killer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
            const code = await exited;
            clearTimeout(killer);
            return code;
          },
        });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code} before listening:\n${output}`));
    });
  });
}
