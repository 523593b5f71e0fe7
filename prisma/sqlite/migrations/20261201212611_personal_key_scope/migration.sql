-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_ApiResource" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "audience" TEXT NOT NULL,
    "name" TEXT,
    "scope" TEXT NOT NULL,
    "accessTokenTtl" INTEGER NOT NULL DEFAULT 900,
    "personalKeyScope" TEXT NOT NULL DEFAULT '',
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);
INSERT INTO "new_ApiResource" ("accessTokenTtl", "audience", "createdAt", "id", "name", "scope", "updatedAt") SELECT "accessTokenTtl", "audience", "createdAt", "id", "name", "scope", "updatedAt" FROM "ApiResource";
DROP TABLE "ApiResource";
ALTER TABLE "new_ApiResource" RENAME TO "ApiResource";
CREATE UNIQUE INDEX "ApiResource_audience_key" ON "ApiResource"("audience");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

