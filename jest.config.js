/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/helpers/node-environment.js',
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type errors are caught once by `npm run typecheck`; jest only transpiles.
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 60_000,
};
