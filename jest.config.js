// The suite runs once per database: always on SQLite, and on PostgreSQL too when
// TEST_DATABASE_URL is set (CI always sets it). Tests that never touch a database run once.
const base = {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript' }, target: 'es2023' }, module: { type: 'es6' } }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
};
// Tests that never touch the database under test, or (the bench smoke run) bring their own.
const databaseFree = [
  '<rootDir>/test/config/',
  '<rootDir>/test/crypto/',
  '<rootDir>/test/errors/',
  '<rootDir>/test/bench/',
  '<rootDir>/test/deploy/',
  '<rootDir>/test/i18n/',
  '<rootDir>/test/templates/',
];

export default {
  // A global option: jest ignores it inside a project. Tests that start processes need more than 5 s.
  testTimeout: 30_000,
  projects: [
    { ...base, displayName: 'sqlite', setupFiles: ['<rootDir>/test/support/use-sqlite.ts'] },
    ...(process.env.TEST_DATABASE_URL
      ? [{ ...base, displayName: 'postgres', setupFiles: ['<rootDir>/test/support/use-postgres.ts'], testPathIgnorePatterns: databaseFree }]
      : []),
  ],
};
