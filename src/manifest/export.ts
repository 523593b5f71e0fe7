// `portcullis export`: the server's configuration as a document (what `apply` reads), and its
// text. Never a secret: Portcullis keeps only keyed hashes (and connections' secrets sealed), and
// the file has no place for one. Never people's data either: who holds which role, the
// organizations and their members stay on the server.
import { Document } from 'yaml';
import type { OrganizationService, RoleService } from '../access/index.ts';
import type { ClientService } from '../clients/index.ts';
import type { FederationService } from '../federation/index.ts';
import type { ResourceService } from '../resources/index.ts';
import { definitionOfView } from '../federation/index.ts';
import { manifestDocument } from './document.ts';
import type { ManifestDocument } from './schema.ts';

export interface ExportServices {
  clients: Pick<ClientService, 'definitions'>;
  resources: Pick<ResourceService, 'definitions'>;
  roles: Pick<RoleService, 'definitions'>;
  organizations: Pick<OrganizationService, 'roleDefinitions'>;
  connections: Pick<FederationService['connections'], 'list'>;
}

/** The configuration the server has; Portcullis's own admin API (`ownAudience`), which the server makes, is left out. */
export async function exportManifest(services: ExportServices, ownAudience: string): Promise<ManifestDocument> {
  const [resources, roles, organizationRoles, clients, connections] = await Promise.all([
    services.resources.definitions(),
    services.roles.definitions(),
    services.organizations.roleDefinitions(),
    services.clients.definitions(),
    services.connections.list(),
  ]);
  return manifestDocument({
    resources: resources.filter((resource) => resource.audience !== ownAudience),
    roles,
    organizationRoles,
    connections: connections.map(definitionOfView),
    clients,
  });
}

const HEADER = [
  ' Portcullis configuration (portcullis export). Apply with: portcullis apply -f FILE [--dry-run]',
  ' No secrets: to create a client that uses one elsewhere, or a connection, add',
  '   client_secret: { from_env: NAME }   or   client_secret: { from_file: PATH }',
  ' No people: who holds a role, and the organizations with their members, are not in the file.',
].join('\n');

/** The document as YAML, with a header that says how to use it. */
export function manifestYaml(document: ManifestDocument): string {
  const yaml = new Document(document);
  yaml.commentBefore = HEADER;
  return yaml.toString({ lineWidth: 0 });
}
