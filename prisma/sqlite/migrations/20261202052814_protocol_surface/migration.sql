-- CreateTable
CREATE TABLE "InitialAccessToken" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tokenHash" TEXT NOT NULL,
    "expiresAt" DATETIME,
    "usesLeft" INTEGER,
    "uses" INTEGER NOT NULL DEFAULT 0,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_Client" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "public" BOOLEAN NOT NULL DEFAULT false,
    "metadata" JSONB NOT NULL,
    "secretHash" TEXT,
    "previousSecretHash" TEXT,
    "previousSecretExpiresAt" DATETIME,
    "registered" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_Client" ("createdAt", "id", "metadata", "name", "previousSecretExpiresAt", "previousSecretHash", "public", "secretHash", "updatedAt") SELECT "createdAt", "id", "metadata", "name", "previousSecretExpiresAt", "previousSecretHash", "public", "secretHash", "updatedAt" FROM "Client";
DROP TABLE "Client";
ALTER TABLE "new_Client" RENAME TO "Client";
CREATE TABLE "new_ApiResource" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "audience" TEXT NOT NULL,
    "name" TEXT,
    "scope" TEXT NOT NULL,
    "accessTokenTtl" INTEGER NOT NULL DEFAULT 900,
    "personalKeyScope" TEXT NOT NULL DEFAULT '',
    "exchangeClients" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_ApiResource" ("accessTokenTtl", "audience", "createdAt", "id", "name", "personalKeyScope", "scope", "updatedAt") SELECT "accessTokenTtl", "audience", "createdAt", "id", "name", "personalKeyScope", "scope", "updatedAt" FROM "ApiResource";
DROP TABLE "ApiResource";
ALTER TABLE "new_ApiResource" RENAME TO "ApiResource";
CREATE UNIQUE INDEX "ApiResource_audience_key" ON "ApiResource"("audience");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

-- CreateIndex
CREATE UNIQUE INDEX "InitialAccessToken_tokenHash_key" ON "InitialAccessToken"("tokenHash");

