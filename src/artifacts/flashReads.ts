// Which page flashes were already shown (FlashRead): what makes a flash single-read across
// instances. Marking one is one insert of its random id; the second insert of the same id finds
// the row and changes nothing, so of a reload, a replayed cookie, or two tabs, one shows it.
import type { Prisma } from '../db/index.ts';

export function createFlashReads({ prisma, provider }: { prisma: Prisma; provider: 'sqlite' | 'postgres' }) {
  return {
    /** Marks flash `id` read; true only for the first call. */
    async markRead(id: string, expiresAt: Date): Promise<boolean> {
      if (provider === 'postgres') {
        // ON CONFLICT DO NOTHING; the shared client type is SQLite's, which lacks skipDuplicates.
        const postgres = prisma.flashRead as unknown as {
          createMany(args: { data: { id: string; expiresAt: Date }[]; skipDuplicates: true }): Promise<{ count: number }>;
        };
        const { count } = await postgres.createMany({ data: [{ id, expiresAt }], skipDuplicates: true });
        return count === 1;
      }
      try {
        await prisma.flashRead.create({ data: { id, expiresAt } });
        return true;
      } catch (error) {
        if ((error as { code?: string } | null)?.code === 'P2002') return false;
        throw error;
      }
    },
    /** Deletes the marks of flashes that have expired anyway. */
    async purge(now = new Date()): Promise<number> {
      const { count } = await prisma.flashRead.deleteMany({ where: { expiresAt: { lt: now } } });
      return count;
    },
  };
}

export type FlashReads = ReturnType<typeof createFlashReads>;
