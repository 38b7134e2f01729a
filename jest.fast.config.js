// The unit tier, for the edit-test loop (`npm run test:fast`, no build needed): every test but
// those that start a whole gateway (in this process or built, from dist/) or any other real
// process from dist/, drive Chromium, run PostgreSQL (PGlite), have the CDK synthesize stacks, or
// inject faults into running gateways. `npm test` runs them all.
const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

const base = require('./jest.config');

/**
 * Test files that start a whole gateway (the GraphQL API tier) or run built code from dist/, found
 * by the test helpers they call for it, so that a new one joins the right tier by itself.
 */
const STARTS = /\b(startGateway|createTestGateway|startBuiltGateway|builtEntry|startFunction)\(/;

function gatewayAndBuiltSuites(dir = join(__dirname, 'test')) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return gatewayAndBuiltSuites(path);
    return entry.name.endsWith('.test.ts') && STARTS.test(readFileSync(path, 'utf8')) ? [path] : [];
  });
}

const escape = (path) => path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

module.exports = {
  ...base,
  testPathIgnorePatterns: [
    '/node_modules/',
    // real processes, built
    '/test/functions/(cli|container)\\.test\\.ts$',
    '/test/functions/(handlers/serve|lambda-local/main|sagemaker-local/(main|function-process))\\.test\\.ts$',
    '/test/gateway/(index|gateway|jobs-process)\\.test\\.ts$',
    '/test/gateway/backends/remote-transports\\.test\\.ts$',
    '/test/tools/',
    '/test/scripts/',
    '/test/docs/examples',
    // browsers and the pages they load (built by npm run build)
    '/test/gateway/(console|explorer)/',
    // PostgreSQL, faults, the CDK
    '/test/gateway/store/postgres\\.test\\.ts$',
    '/test/gateway/catalogue/job-requests\\.test\\.ts$',
    '/test/gateway/faults/',
    '/test/infra/(cdk-cli|catalogue-database|.*-stack)\\.test\\.ts$',
    // the layer rules cruise the whole tree (npm test runs them before jest as well)
    '/test/layers\\.test\\.ts$',
    // a whole gateway, or built code from dist/ (see STARTS)
    ...gatewayAndBuiltSuites().map((path) => `^${escape(path)}$`),
  ],
};
