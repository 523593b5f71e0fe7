-- CreateTable
CREATE TABLE "ApiResource" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "audience" TEXT NOT NULL,
    "name" TEXT,
    "scope" TEXT NOT NULL,
    "accessTokenTtl" INTEGER NOT NULL DEFAULT 900,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateIndex
CREATE UNIQUE INDEX "ApiResource_audience_key" ON "ApiResource"("audience");

