-- CreateTable
CREATE TABLE "FlashRead" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "expiresAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE INDEX "FlashRead_expiresAt_idx" ON "FlashRead"("expiresAt");

