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
  // The suite runs in one worker (two cores), and ES modules loaded through the vm API are not
  // freed between files: past about 190 files the process ran out of its 4 GB heap. A worker above
  // this much memory after a file is replaced by a fresh one (jest then never runs in band).
  workerIdleMemoryLimit: '1536MB',
  projects: [
    { ...base, displayName: 'sqlite', setupFiles: ['<rootDir>/test/support/use-sqlite.ts'] },
    ...(process.env.TEST_DATABASE_URL
      ? [{ ...base, displayName: 'postgres', setupFiles: ['<rootDir>/test/support/use-postgres.ts'], testPathIgnorePatterns: databaseFree }]
      : []),
  ],
};
