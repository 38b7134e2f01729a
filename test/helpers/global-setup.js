// Runs once in jest's own process, before it starts its workers, which inherit what is set here
// (and pass it on to the processes the tests spawn).
'use strict';

module.exports = async function globalSetup() {
  // The tests run on Node 20 on purpose (it still works); the AWS SDK's notice that later
  // versions will need 22 would otherwise be printed by every worker and every process the
  // tests start, looking like a failure. docs/development.md says so once.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
};
