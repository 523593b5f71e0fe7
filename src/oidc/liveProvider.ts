// Keeps the oidc-provider instance in step with the signing keys in the database.
//
// oidc-provider fixes its keys when it is constructed, so a rotation means building a new
// instance and routing new requests to it. Requests already inside the old instance finish
// there (they hold their own reference). Every instance polls the key set's version, so a
// rotation made anywhere (CLI, another instance, the schedule) is picked up everywhere within
// one poll interval.
import type { Middleware } from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';
import type { Logger } from 'pino';
import type { LoadedKeys } from '../keys/index.ts';

export interface ProviderGeneration {
  provider: Provider;
  keys: LoadedKeys;
}

export interface LiveProvider {
  /** Routes each request to the newest provider. */
  middleware: Middleware;
  current(): ProviderGeneration;
  /** Rebuilds the provider if the key set changed. Resolves with whether it did. */
  refresh(): Promise<boolean>;
  close(): void;
}

export async function createLiveProvider({
  build,
  version,
  pollIntervalMs,
  logger,
}: {
  build: () => Promise<ProviderGeneration>;
  version: () => Promise<string>;
  pollIntervalMs: number;
  logger: Logger;
}): Promise<LiveProvider> {
  let generation = await build();
  let handler = mount(generation.provider);
  let refreshing: Promise<boolean> | undefined;

  async function doRefresh(): Promise<boolean> {
    if ((await version()) === generation.keys.version) return false;
    const next = await build();
    generation = next;
    handler = mount(next.provider);
    logger.info(
      { signingKid: next.keys.signing.kid, publishedKids: next.keys.publicJwks.keys.map((key) => key.kid) },
      'signing keys changed; provider rebuilt',
    );
    return true;
  }

  // One refresh at a time: a slow database must not stack up rebuilds.
  const refresh = () => (refreshing ??= doRefresh().finally(() => (refreshing = undefined)));

  const timer = setInterval(() => {
    refresh().catch((error: unknown) => logger.warn({ err: error }, 'checking signing keys failed; keeping the current ones'));
  }, pollIntervalMs);
  timer.unref();

  return {
    middleware: (ctx, next) => handler(ctx, next),
    current: () => generation,
    refresh,
    close: () => clearInterval(timer),
  };
}
