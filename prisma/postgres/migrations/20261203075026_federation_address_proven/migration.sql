-- AlterTable
ALTER TABLE "FederatedIdentity" ADD COLUMN     "addressProven" BOOLEAN NOT NULL DEFAULT true;

