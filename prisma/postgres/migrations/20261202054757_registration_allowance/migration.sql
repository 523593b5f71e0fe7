-- AlterTable
ALTER TABLE "InitialAccessToken" ADD COLUMN     "grantTypes" TEXT NOT NULL DEFAULT 'authorization_code refresh_token',
ADD COLUMN     "scope" TEXT NOT NULL DEFAULT '';

