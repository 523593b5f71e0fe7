// What a failing database looks like, from any layer: Prisma's errors, the driver's, and the
// errors of connections that never opened.
/** True for errors that come from the database driver or Prisma (not from the request). */
export function isDatabaseError(error: unknown): boolean {
  const name = (error as { name?: string } | null)?.name ?? '';
  const code = (error as { code?: string } | null)?.code ?? '';
  return (
    name.startsWith('PrismaClient') ||
    name === 'DriverAdapterError' ||
    name === 'DatabaseUnavailableError' ||
    /^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|57P0\d|08\d\d\d|SQLITE_)/.test(code)
  );
}
