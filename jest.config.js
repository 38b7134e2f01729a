/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: '<rootDir>/test/helpers/node-environment.js',
  globalSetup: '<rootDir>/test/helpers/global-setup.js',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // Type errors are caught once, by the build npm test runs first (tsc over tsconfig.json); jest only transpiles.
  transform: { '^.+\\.ts$': 'ts-jest' },
  testTimeout: 60_000,
  // One test file per core. jest's own default leaves a core to itself (cores - 1): one file at a
  // time on two cores, where the suite took 302 s against 211 s with two side by side.
  maxWorkers: '100%',
};
