// The soak: a long, steady load at 80% of the peak measured just before, over a mix of what
// services do all day (client credentials, refresh-token rotation, introspection of an opaque
// token, API-key checks), watching for errors and for resident memory that keeps growing (a
// leak shows as growth from the second minute on; the first minute is JIT, caches and pools
// filling up).
import autocannon from 'autocannon';
import { loadOf, observe, residentKb, type Observed } from './measure.ts';

export interface SoakInputs {
  url: string;
  /** HTTP Basic for the service client (client credentials, introspection). */
  serviceAuth: string;
  /** The client-credentials body (with the API's resource: a JWT). */
  ccBody: string;
  opaqueToken: string;
  apiKey: string;
  /** HTTP Basic for the app whose refresh tokens rotate. */
  appAuth: string;
  /**
   * The newest refresh token of each chain: the pool the refreshes take from and put back into,
   * kept across runs. A run that ends with a refresh in flight loses that chain (its answer is
   * never read), so give two chains per connection.
   */
  refreshTokens: string[];
}

export interface SoakResult extends Observed {
  database: string;
  seconds: number;
  connections: number;
  peakRps: number;
  targetRps: number;
  /** Resident memory, in MB, once a second from the start of the soak. */
  rssMb: number[];
  /** Growth of resident memory from the start of the second minute (or a fifth of the run, when shorter) to the end, in percent. */
  rssGrowthPercent: number;
}

const form = (authorization: string) => ({ authorization, 'content-type': 'application/x-www-form-urlencoded' });

/**
 * A refresh for autocannon. Refresh tokens are single use, so each refresh takes a chain from
 * `pool` and puts back the token its answer carries; a connection has at most one request in
 * flight, so a pool with a chain per connection never runs dry unless refreshes fail (and then
 * they count as errors).
 */
export function refreshRequest(appAuth: string, pool: string[]): autocannon.Request {
  return {
    method: 'POST',
    path: '/token',
    headers: form(appAuth),
    setupRequest: (request) => ({ ...request, body: `grant_type=refresh_token&refresh_token=${pool.shift() ?? 'exhausted'}` }),
    onResponse: (status, body) => {
      if (status === 200) pool.push((JSON.parse(body) as { refresh_token: string }).refresh_token);
    },
  };
}

/** The mix as one autocannon request sequence, which every connection cycles through. */
function mix(inputs: SoakInputs): autocannon.Request[] {
  return [
    { method: 'POST', path: '/token', headers: form(inputs.serviceAuth), body: inputs.ccBody },
    { method: 'POST', path: '/token/introspection', headers: form(inputs.serviceAuth), body: `token=${inputs.opaqueToken}` },
    { method: 'POST', path: '/token/introspection', headers: form(inputs.serviceAuth), body: `token=${inputs.apiKey}` },
    refreshRequest(inputs.appAuth, inputs.refreshTokens),
  ];
}

function run(inputs: SoakInputs, seconds: number, connections: number, overallRate?: number) {
  return autocannon({ url: inputs.url, connections, duration: seconds, requests: mix(inputs), ...(overallRate ? { overallRate } : {}) });
}

/**
 * Measures the mix's peak for `peakSeconds`, then holds 80% of it for `seconds`, sampling the
 * server's resident memory once a second.
 */
export async function soak(
  pid: number,
  database: string,
  inputs: SoakInputs,
  { seconds, peakSeconds, connections }: { seconds: number; peakSeconds: number; connections: number },
): Promise<SoakResult> {
  const peak = loadOf(await run(inputs, peakSeconds, connections));
  if (peak.errors) throw new Error(`the soak's peak measure had ${peak.errors} errors`);
  const targetRps = Math.max(1, Math.round(peak.rps * 0.8));
  console.log(`${database} soak: peak ${peak.rps}/s; holding ${targetRps}/s for ${seconds} s`);
  const rssMb: number[] = [];
  const sampler = setInterval(() => {
    rssMb.push(Math.round(residentKb(pid) / 1024));
    if (rssMb.length % 60 === 0) console.log(`${database} soak: ${rssMb.length} s, RSS ${rssMb.at(-1)} MB`);
  }, 1000);
  try {
    const observed = await observe(pid, async () => loadOf(await run(inputs, seconds, connections, targetRps)));
    // From the second minute, or from a fifth of the run for a short smoke soak.
    const from = rssMb[Math.min(60, Math.floor(rssMb.length / 5))] ?? rssMb[0] ?? 0;
    const last = rssMb.at(-1) ?? 0;
    return {
      ...observed,
      database,
      seconds,
      connections,
      peakRps: peak.rps,
      targetRps,
      rssMb,
      rssGrowthPercent: from ? Math.round(((last - from) / from) * 1000) / 10 : 0,
    };
  } finally {
    clearInterval(sampler);
  }
}
