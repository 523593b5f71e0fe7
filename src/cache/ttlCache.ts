// A small in-memory cache whose entries live `ttlMs`: how the hot paths (client and API
// resource lookups on every token request) avoid a database round trip each time. The TTL is
// the most any other instance may lag behind a change; the instance that makes a change
// forgets the entry at once.
export interface TtlCache<T> {
  get(key: string): T | undefined;
  has(key: string): boolean;
  set(key: string, value: T): void;
  delete(key: string): void;
  clear(): void;
}

export function createTtlCache<T>(ttlMs: number, maxEntries = 10_000): TtlCache<T> {
  const entries = new Map<string, { value: T; at: number }>();
  const fresh = (key: string) => {
    const entry = entries.get(key);
    if (entry && Date.now() - entry.at <= ttlMs) return entry;
    if (entry) entries.delete(key);
    return undefined;
  };
  return {
    get: (key) => fresh(key)?.value,
    has: (key) => fresh(key) !== undefined,
    set(key, value) {
      if (entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { value, at: Date.now() });
    },
    delete: (key) => void entries.delete(key),
    clear: () => entries.clear(),
  };
}
