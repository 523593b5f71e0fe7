// `portcullis export`: the server's configuration as a document (what `apply` reads), and its
// text. Never a secret: Portcullis keeps only keyed hashes (and connections' secrets sealed), and
// the file has no place for one.
import { Document } from 'yaml';
import type { ClientService } from '../clients/index.ts';
import type { FederationService } from '../federation/index.ts';
import type { ResourceService } from '../resources/index.ts';
import { definitionOfView } from '../federation/index.ts';
import { manifestDocument } from './document.ts';
import type { ManifestDocument } from './schema.ts';

export interface ExportServices {
  clients: Pick<ClientService, 'definitions'>;
  resources: Pick<ResourceService, 'definitions'>;
  connections: Pick<FederationService['connections'], 'list'>;
}

/** The configuration the server has; Portcullis's own admin API (`ownAudience`), which the server makes, is left out. */
export async function exportManifest(services: ExportServices, ownAudience: string): Promise<ManifestDocument> {
  const [resources, clients, connections] = await Promise.all([
    services.resources.definitions(),
    services.clients.definitions(),
    services.connections.list(),
  ]);
  return manifestDocument(
    resources.filter((resource) => resource.audience !== ownAudience),
    clients,
    connections.map(definitionOfView),
  );
}

const HEADER = [
  ' Portcullis configuration (portcullis export). Apply with: portcullis apply -f FILE [--dry-run]',
  ' No secrets: to create a client that uses one elsewhere, or a connection, add',
  '   client_secret: { from_env: NAME }   or   client_secret: { from_file: PATH }',
].join('\n');

/** The document as YAML, with a header that says how to use it. */
export function manifestYaml(document: ManifestDocument): string {
  const yaml = new Document(document);
  yaml.commentBefore = HEADER;
  return yaml.toString({ lineWidth: 0 });
}
