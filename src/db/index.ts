export { databaseProvider, hidePassword, openDatabase, type Database, type Prisma } from './database.ts';
export { isDatabaseError } from './errors.ts';
export { listMigrations, migrate, MigrationError } from './migrate.ts';
export { dateOf, sqlQuery, type Statements } from './statements.ts';
