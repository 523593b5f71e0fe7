// How the pages name an app: by the name its client was registered with, read from
// oidc-provider (which caches clients), so the login, consent and account pages agree.
import type Provider from 'oidc-provider';

export async function clientName(provider: Provider, clientId: unknown): Promise<string> {
  const client = typeof clientId === 'string' ? await provider.Client.find(clientId) : undefined;
  return client?.clientName ?? 'the application';
}
