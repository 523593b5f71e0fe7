// `portcullis export`: the server's configuration as a document (what `apply` reads), and its
// text. Never a secret: Portcullis keeps only keyed hashes, and the file has no place for one.
import { Document } from 'yaml';
import type { ClientService } from '../clients/index.ts';
import type { ResourceService } from '../resources/index.ts';
import { manifestDocument } from './document.ts';
import type { ManifestDocument } from './schema.ts';

export interface ExportServices {
  clients: Pick<ClientService, 'definitions'>;
  resources: Pick<ResourceService, 'definitions'>;
}

/** The configuration the server has; Portcullis's own admin API (`ownAudience`), which the server makes, is left out. */
export async function exportManifest(services: ExportServices, ownAudience: string): Promise<ManifestDocument> {
  const [resources, clients] = await Promise.all([services.resources.definitions(), services.clients.definitions()]);
  return manifestDocument(
    resources.filter((resource) => resource.audience !== ownAudience),
    clients,
  );
}

const HEADER = [
  ' Portcullis configuration (portcullis export). Apply with: portcullis apply -f FILE [--dry-run]',
  ' No secrets: to create a client that uses one elsewhere, add',
  '   client_secret: { from_env: NAME }   or   client_secret: { from_file: PATH }',
].join('\n');

/** The document as YAML, with a header that says how to use it. */
export function manifestYaml(document: ManifestDocument): string {
  const yaml = new Document(document);
  yaml.commentBefore = HEADER;
  return yaml.toString({ lineWidth: 0 });
}
