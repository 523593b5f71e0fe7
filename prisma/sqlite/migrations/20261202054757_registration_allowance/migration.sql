-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_InitialAccessToken" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "tokenHash" TEXT NOT NULL,
    "expiresAt" DATETIME,
    "usesLeft" INTEGER,
    "uses" INTEGER NOT NULL DEFAULT 0,
    "grantTypes" TEXT NOT NULL DEFAULT 'authorization_code refresh_token',
    "scope" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP
);
INSERT INTO "new_InitialAccessToken" ("createdAt", "expiresAt", "id", "tokenHash", "uses", "usesLeft") SELECT "createdAt", "expiresAt", "id", "tokenHash", "uses", "usesLeft" FROM "InitialAccessToken";
DROP TABLE "InitialAccessToken";
ALTER TABLE "new_InitialAccessToken" RENAME TO "InitialAccessToken";
CREATE UNIQUE INDEX "InitialAccessToken_tokenHash_key" ON "InitialAccessToken"("tokenHash");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

