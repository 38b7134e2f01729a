// Monaco (GraphiQL's editor) runs its language services in web workers. The build bundles each
// worker as its own file next to the page's script, and they load from there: from the gateway,
// never from a CDN. Imported before GraphiQL, so the environment is set before any editor starts.
const WORKERS: Record<string, string> = { json: './json.worker.js', graphql: './graphql.worker.js' };

(globalThis as { MonacoEnvironment?: { getWorker(workerId: string, label: string): Worker } }).MonacoEnvironment = {
  getWorker: (_workerId, label) => new Worker(new URL(WORKERS[label] ?? './editor.worker.js', import.meta.url)),
};
