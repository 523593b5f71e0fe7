// Types of scripts/node-version.mjs, for the `portcullis` entry point (src/cli/main.ts).
export function requiredNode(range?: string): { major: number; minor: number; text: string };
export function nodeIsRecentEnough(version?: string, required?: { major: number; minor: number }): boolean;
export function requireRecentNode(): void;
