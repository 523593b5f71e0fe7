-- CreateTable
CREATE TABLE "User" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "email" TEXT NOT NULL,
    "name" TEXT,
    "passwordHash" TEXT NOT NULL,
    "disabled" BOOLEAN NOT NULL DEFAULT false,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "Client" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "public" BOOLEAN NOT NULL DEFAULT false,
    "metadata" JSONB NOT NULL,
    "secretHash" TEXT,
    "previousSecretHash" TEXT,
    "previousSecretExpiresAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" DATETIME NOT NULL
);

-- CreateTable
CREATE TABLE "AuditEvent" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "at" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "type" TEXT NOT NULL,
    "actorType" TEXT NOT NULL,
    "actorId" TEXT,
    "subject" TEXT,
    "ip" TEXT,
    "userAgent" TEXT,
    "outcome" TEXT NOT NULL,
    "details" JSONB
);

-- CreateTable
CREATE TABLE "ApiKey" (
    "id" TEXT NOT NULL PRIMARY KEY,
    "name" TEXT NOT NULL,
    "displayPrefix" TEXT NOT NULL,
    "keyHash" TEXT NOT NULL,
    "ownerUserId" TEXT,
    "ownerClientId" TEXT,
    "scopes" JSONB NOT NULL,
    "audiences" JSONB NOT NULL,
    "rateLimit" TEXT,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expiresAt" DATETIME,
    "lastUsedAt" DATETIME,
    "useCount" INTEGER NOT NULL DEFAULT 0,
    "revokedAt" DATETIME
);

-- CreateTable
CREATE TABLE "ProviderArtifact" (
    "kind" TEXT NOT NULL,
    "idHash" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "idSealedByUid" TEXT,
    "idSealedByUserCode" TEXT,
    "grantId" TEXT,
    "uidHash" TEXT,
    "userCodeHash" TEXT,
    "accountId" TEXT,
    "clientId" TEXT,
    "expiresAt" DATETIME,
    "consumedAt" DATETIME,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,

    PRIMARY KEY ("kind", "idHash")
);

-- CreateTable
CREATE TABLE "SigningKey" (
    "kid" TEXT NOT NULL PRIMARY KEY,
    "alg" TEXT NOT NULL,
    "state" TEXT NOT NULL,
    "publicJwk" JSONB NOT NULL,
    "privateJwkEncrypted" TEXT NOT NULL,
    "createdAt" DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "activatedAt" DATETIME,
    "deactivatedAt" DATETIME,
    "retiredAt" DATETIME
);

-- CreateIndex
CREATE UNIQUE INDEX "User_email_key" ON "User"("email");

-- CreateIndex
CREATE INDEX "AuditEvent_at_idx" ON "AuditEvent"("at");

-- CreateIndex
CREATE INDEX "AuditEvent_type_at_idx" ON "AuditEvent"("type", "at");

-- CreateIndex
CREATE INDEX "AuditEvent_actorId_at_idx" ON "AuditEvent"("actorId", "at");

-- CreateIndex
CREATE INDEX "AuditEvent_subject_at_idx" ON "AuditEvent"("subject", "at");

-- CreateIndex
CREATE UNIQUE INDEX "ApiKey_keyHash_key" ON "ApiKey"("keyHash");

-- CreateIndex
CREATE INDEX "ApiKey_ownerUserId_idx" ON "ApiKey"("ownerUserId");

-- CreateIndex
CREATE INDEX "ApiKey_ownerClientId_idx" ON "ApiKey"("ownerClientId");

-- CreateIndex
CREATE INDEX "ProviderArtifact_grantId_idx" ON "ProviderArtifact"("grantId");

-- CreateIndex
CREATE INDEX "ProviderArtifact_kind_uidHash_idx" ON "ProviderArtifact"("kind", "uidHash");

-- CreateIndex
CREATE INDEX "ProviderArtifact_kind_userCodeHash_idx" ON "ProviderArtifact"("kind", "userCodeHash");

-- CreateIndex
CREATE INDEX "ProviderArtifact_kind_accountId_idx" ON "ProviderArtifact"("kind", "accountId");

-- CreateIndex
CREATE INDEX "ProviderArtifact_kind_clientId_idx" ON "ProviderArtifact"("kind", "clientId");

-- CreateIndex
CREATE INDEX "ProviderArtifact_expiresAt_idx" ON "ProviderArtifact"("expiresAt");

-- CreateIndex
CREATE INDEX "SigningKey_state_idx" ON "SigningKey"("state");

