// An admin API caller for tests: a client registered with the CLI and the access token it gets
// from the client-credentials grant, as an operator's script would do it.
import { basicAuth } from './browser.ts';
import { cliJson } from './cli.ts';
import type { RunningServer } from './server.ts';

export interface AdminCaller {
  clientId: string;
  token: string;
}

/** A new client holding `scope` (admin:read, admin:write), and a token of it for `resource` (the admin API unless told). */
export async function adminCaller(running: Pick<RunningServer, 'url' | 'env'>, scope: string, resource?: string): Promise<AdminCaller> {
  const client = await cliJson<{ client_id: string; client_secret: string }>(
    ['client', 'create', '--name', `admin ${scope}`, '--grant', 'client_credentials', '--scope', scope],
    running.env,
  );
  const response = await fetch(`${running.url}/token`, {
    method: 'POST',
    headers: basicAuth(client.client_id, client.client_secret),
    body: new URLSearchParams({ grant_type: 'client_credentials', resource: resource ?? `${running.url}/admin` }),
  });
  const { access_token: token } = (await response.json()) as { access_token: string };
  return { clientId: client.client_id, token };
}
