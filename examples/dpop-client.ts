// A service that calls an API with a DPoP-bound token (RFC 9449), with oauth4webapi: it makes a
// key pair that never leaves the process, gets a client-credentials token bound to it (a proof
// on the token request), and calls the API with `Authorization: DPoP` and a fresh proof on each
// request. A stolen token is useless without the key. When the server asks for a nonce
// (DPOP_REQUIRE_NONCE=true: 400 `use_dpop_nonce` with a DPoP-Nonce header), the handle keeps
// the nonce and the request is made once more, as RFC 9449 section 8 says.
//
//   ISSUER=http://localhost:3000 CLIENT_ID=… CLIENT_SECRET=… RESOURCE=https://orders.example.com \
//     API=http://127.0.0.1:4000/orders npx tsx examples/dpop-client.ts
import { pathToFileURL } from 'node:url';
import * as oauth from 'oauth4webapi';

export interface DpopClientOptions {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** The API's audience, as registered with `portcullis resource create --audience`. */
  resource: string;
  /** Allow plain http for the issuer and the API (development only). */
  insecure?: boolean;
}

/** Gets a DPoP-bound token and returns a function that calls `url` with it, and the token's answer. */
export async function dpopClient({ issuer, clientId, clientSecret, resource, insecure = false }: DpopClientOptions) {
  const options = { [oauth.allowInsecureRequests]: insecure };
  const as = await oauth.processDiscoveryResponse(new URL(issuer), await oauth.discoveryRequest(new URL(issuer), options));
  const client: oauth.Client = { client_id: clientId };
  // ES256, non-extractable: the private key cannot be exported, only used to sign.
  const DPoP = oauth.DPoP(client, await oauth.generateKeyPair('ES256'));

  /** Once more when the answer asks for a nonce: the handle has cached it from the refusal. */
  async function retryingNonce<T>(attempt: () => Promise<T>): Promise<T> {
    try {
      return await attempt();
    } catch (error) {
      if (!oauth.isDPoPNonceError(error)) throw error;
      return attempt();
    }
  }

  const token = await retryingNonce(async () =>
    oauth.processClientCredentialsResponse(
      as,
      client,
      await oauth.clientCredentialsGrantRequest(as, client, oauth.ClientSecretBasic(clientSecret), { resource }, { ...options, DPoP }),
    ),
  );
  return {
    token,
    /** GET `url` with the token and a proof made for this request (its method, URL and the token's hash). */
    call: (url: string) =>
      oauth.protectedResourceRequest(token.access_token, 'GET', new URL(url), undefined, undefined, { ...options, DPoP }),
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const issuer = process.env.ISSUER ?? 'http://localhost:3000';
  const { token, call } = await dpopClient({
    issuer,
    clientId: process.env.CLIENT_ID ?? '',
    clientSecret: process.env.CLIENT_SECRET ?? '',
    resource: process.env.RESOURCE ?? 'https://orders.example.com',
    insecure: new URL(issuer).protocol === 'http:',
  });
  console.log(`token_type: ${token.token_type}, expires_in: ${token.expires_in}`);
  if (process.env.API) {
    const response = await call(process.env.API).catch((error: unknown) => {
      if (error instanceof oauth.WWWAuthenticateChallengeError) return error.response;
      throw error;
    });
    console.log(response.status, await response.text());
  }
}
