-- AlterTable
ALTER TABLE "ApiResource" ADD COLUMN     "personalKeyScope" TEXT NOT NULL DEFAULT '';

