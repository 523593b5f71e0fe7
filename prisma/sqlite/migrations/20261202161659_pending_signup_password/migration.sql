-- AlterTable
ALTER TABLE "AccountToken" ADD COLUMN "passwordHash" TEXT;

