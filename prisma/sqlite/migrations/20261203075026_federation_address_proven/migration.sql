-- RedefineTables
PRAGMA defer_foreign_keys=ON;
PRAGMA foreign_keys=OFF;
CREATE TABLE "new_FederatedIdentity" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "connectionId" TEXT NOT NULL,
    "subject" TEXT NOT NULL,
    "userId" TEXT NOT NULL,
    "email" TEXT,
    "tokens" TEXT,
    "addressProven" BOOLEAN NOT NULL DEFAULT true,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "lastUsedAt" DATETIME,
    CONSTRAINT "FederatedIdentity_connectionId_fkey" FOREIGN KEY ("connectionId") REFERENCES "Connection" ("id") ON DELETE CASCADE ON UPDATE CASCADE
);
INSERT INTO "new_FederatedIdentity" ("connectionId", "createdAt", "email", "id", "lastUsedAt", "subject", "tokens", "userId") SELECT "connectionId", "createdAt", "email", "id", "lastUsedAt", "subject", "tokens", "userId" FROM "FederatedIdentity";
DROP TABLE "FederatedIdentity";
ALTER TABLE "new_FederatedIdentity" RENAME TO "FederatedIdentity";
CREATE INDEX "FederatedIdentity_userId_idx" ON "FederatedIdentity"("userId");
CREATE UNIQUE INDEX "FederatedIdentity_connectionId_subject_key" ON "FederatedIdentity"("connectionId", "subject");
PRAGMA foreign_keys=ON;
PRAGMA defer_foreign_keys=OFF;

