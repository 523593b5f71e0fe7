-- CreateTable
CREATE TABLE "ApiResource" (
    "id" TEXT NOT NULL,
    "audience" TEXT NOT NULL,
    "name" TEXT,
    "scope" TEXT NOT NULL,
    "accessTokenTtl" INTEGER NOT NULL DEFAULT 900,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "ApiResource_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "ApiResource_audience_key" ON "ApiResource"("audience");

