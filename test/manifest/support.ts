// What the configuration-as-code tests share: writing a file to apply, and a snapshot of what
// apply may change (clients, API resources, audit events) to show that a refusal changed nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { stringify } from 'yaml';
import { openDatabase } from '../../src/db/index.ts';

/** A folder of its own for a test file's manifests and secret files; removed by `remove`. */
export function manifestFolder() {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'portcullis-manifest-'));
  return {
    folder,
    /** Writes `content` (a document, as YAML; or text as is) to `name` in the folder and returns its path. */
    write(name: string, content: unknown): string {
      const file = path.join(folder, name);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      fs.writeFileSync(file, typeof content === 'string' ? content : stringify(content));
      return file;
    },
    remove: () => fs.rmSync(folder, { recursive: true, force: true }),
  };
}

/** Everything apply may change, as one string: equal before and after means nothing changed. */
export async function snapshot(databaseUrl: string): Promise<string> {
  const db = openDatabase(databaseUrl);
  try {
    const [clients, resources, events] = await Promise.all([
      db.prisma.client.findMany({ orderBy: { id: 'asc' } }),
      db.prisma.apiResource.findMany({ orderBy: { audience: 'asc' } }),
      db.prisma.auditEvent.findMany({ orderBy: { id: 'asc' } }),
    ]);
    return JSON.stringify({ clients, resources, events });
  } finally {
    await db.close();
  }
}

/** The type of every audit event, oldest first. */
export async function auditTypes(databaseUrl: string): Promise<string[]> {
  const db = openDatabase(databaseUrl);
  try {
    return (await db.prisma.auditEvent.findMany({ orderBy: { at: 'asc' } })).map((event) => event.type);
  } finally {
    await db.close();
  }
}

/** A client secret as an operator would make one (openssl rand -base64 32). */
export const newSecret = () => Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64');
