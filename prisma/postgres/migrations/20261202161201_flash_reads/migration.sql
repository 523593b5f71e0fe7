-- CreateTable
CREATE TABLE "FlashRead" (
    "id" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "FlashRead_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "FlashRead_expiresAt_idx" ON "FlashRead"("expiresAt");

