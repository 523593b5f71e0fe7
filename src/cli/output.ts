// How a command prints. `printing` is the one place a command gets its --json option and its
// action: with --json it prints exactly one JSON document on stdout, without it the command's
// human text; a bad value from a flag leaves it naming both the field and the flag. `table` lays
// lists out for people.
import type { Command } from 'commander';
import { InputError } from '../errors/index.ts';
import type { CliIo } from './io.ts';

/**
 * The flag each input field comes from, one map per command group. The field is the service's
 * wire name (what --json and the admin API report); people typed the flag, so a human message
 * names it too.
 */
export type FieldFlags = Readonly<Record<string, `--${string}`>>;
/** A group's map, checked against its services' input types so that each key is a real wire name. */
export type FlagsOf<Input> = Partial<Record<keyof Input, `--${string}`>>;

/** A command's work and how its result reads for people. */
export interface Printed<Options, Result> {
  /** `options` are the parsed flags, `operands` the command's arguments (`<client_id>`). */
  run(options: Options, ...operands: string[]): Promise<Result>;
  human(result: Result): string;
  /** What --json prints, when it is not the result itself. */
  json?(result: Result): unknown;
}

/** A service's InputError for a field that came from a flag, so that runCli can name the flag. */
export class FlagError extends Error {
  readonly input: InputError;
  readonly flag: string;
  constructor(input: InputError, flag: string) {
    super(input.message, { cause: input });
    this.name = 'FlagError';
    this.input = input;
    this.flag = flag;
  }

  /** "grant_types (--grant): at least one grant type is required". */
  humanMessage(): string {
    const { field, message } = this.input;
    const reason = message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
    return `${field} (${this.flag}): ${reason}`;
  }
}

/** Returns the helper that gives a command of one group (with its map of flags) --json and its action. */
export function printing(io: CliIo, flags: FieldFlags) {
  return function printed<Options extends object, Result>(command: Command, { run, human, json }: Printed<Options, Result>): Command {
    return command.option('--json', 'print JSON').action(async function (this: Command) {
      const options = this.opts<Options & { json?: boolean }>();
      // Commander hands the operands over untyped; every operand of ours is a plain string.
      const operands: string[] = this.args;
      const result = await run(options, ...operands).catch((error: unknown) => {
        throw withFlag(error, flags);
      });
      io.stdout(options.json ? `${JSON.stringify(json ? json(result) : result, null, 2)}\n` : `${human(result)}\n`);
    });
  };
}

/** A bad value of a field some flag of the group gave, as a FlagError; anything else as it was. */
function withFlag(error: unknown, flags: FieldFlags): unknown {
  const flag = error instanceof InputError ? flags[error.field] : undefined;
  return flag && error instanceof InputError ? new FlagError(error, flag) : error;
}

/** Rows as aligned columns (lists print their arrays space-separated); "(none)" for no rows. */
export function table<Row extends object>(rows: readonly Row[], columns: readonly (keyof Row & string)[]): string {
  if (rows.length === 0) return '(none)';
  const cell = (value: unknown) => (Array.isArray(value) ? value.join(' ') : String(value ?? ''));
  const cells = rows.map((row) => columns.map((column) => cell(row[column])));
  const widths = columns.map((column, i) => Math.max(column.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((value, i) => value.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line([...columns]), ...cells.map(line)].join('\n');
}
