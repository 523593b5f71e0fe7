-- AlterTable
ALTER TABLE "SigningKey" ADD COLUMN "slot" TEXT;

-- CreateIndex
CREATE UNIQUE INDEX "SigningKey_slot_key" ON "SigningKey"("slot");


-- Backfill: the newest current and next keys take their slots.
UPDATE "SigningKey" SET "slot" = 'current' WHERE "kid" = (SELECT "kid" FROM "SigningKey" WHERE "state" = 'current' ORDER BY "activatedAt" DESC LIMIT 1);
UPDATE "SigningKey" SET "slot" = 'next' WHERE "kid" = (SELECT "kid" FROM "SigningKey" WHERE "state" = 'next' ORDER BY "createdAt" DESC LIMIT 1);
