// The command line as other folders (and the tests) see it: run it with an argv and an io.
export { buildProgram, runCli, type CliIo } from './program.ts';
