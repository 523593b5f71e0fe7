-- AlterTable
ALTER TABLE "Client" ADD COLUMN     "registered" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "ApiResource" ADD COLUMN     "exchangeClients" TEXT NOT NULL DEFAULT '';

-- CreateTable
CREATE TABLE "InitialAccessToken" (
    "id" TEXT NOT NULL,
    "tokenHash" TEXT NOT NULL,
    "expiresAt" TIMESTAMP(3),
    "usesLeft" INTEGER,
    "uses" INTEGER NOT NULL DEFAULT 0,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "InitialAccessToken_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "InitialAccessToken_tokenHash_key" ON "InitialAccessToken"("tokenHash");

