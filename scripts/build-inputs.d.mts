// Types of scripts/build-inputs.mjs, for the tests.
export const BUILD_STAMP: string;
export function buildInputs(root?: string): string[];
export function staleBecause(root?: string): string | undefined;
