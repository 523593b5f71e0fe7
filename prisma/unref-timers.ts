// Prisma's WebAssembly schema engine leaves long timers pending, which keeps the CLI alive
// 10-60 s after its work is done. Unref'ing timers of 10 s or more lets the process exit.
export function unrefLongTimers(): void {
  const original = globalThis.setTimeout;
  const patched = ((handler: (...args: unknown[]) => void, delay?: number, ...args: unknown[]) => {
    const timer = original(handler, delay, ...args);
    if ((delay ?? 0) >= 10_000) timer.unref?.();
    return timer;
  }) as typeof setTimeout;
  globalThis.setTimeout = Object.assign(patched, original);
}
