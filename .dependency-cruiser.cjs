// The layers of the code, as rules that run in `npm test` (depcruise gateway functions bench tools
// --config .dependency-cruiser.cjs): a circle or an import pointing up fails the build the day it
// appears. docs/architecture.md draws the same picture.
//
// Imports only point down, lowest first:
//
//   functions/ → gateway/common → store, intake (and imports, the product files), backends → embedding → catalogue, loaders
//     → context.ts → schema, limits → config.ts → gateway.ts → host.ts (with subscriptions/,
//     its WebSocket and event-stream sides, uploads.ts, its multipart requests, and the pages it serves: console/,
//     explorer/) → index.ts
//
// Folders of one layer may import one another (no-circular still holds between them). Type-only
// imports count like any other (tsPreCompilationDeps): a type from a layer above is a dependency
// on that layer all the same.

/** Each layer's files, lowest first. */
const LAYERS = [
  { name: 'functions', path: '^functions/' },
  { name: 'common', path: '^gateway/common/' },
  { name: 'store-intake-backends', path: '^gateway/(store|intake|imports|backends)/' },
  { name: 'embedding', path: '^gateway/embedding/' },
  { name: 'catalogue-loaders', path: '^gateway/(catalogue|loaders|webhooks)/' },
  { name: 'context', path: '^gateway/context\\.ts$' },
  { name: 'schema-limits', path: '^gateway/(schema|limits)/' },
  { name: 'config', path: '^gateway/config\\.ts$' },
  { name: 'gateway', path: '^gateway/gateway\\.ts$' },
  { name: 'host', path: '^gateway/(host\\.ts$|subscriptions/|uploads\\.ts$|console/|explorer/|shopify/)' },
  { name: 'index', path: '^gateway/index\\.ts$' },
];

/** One rule per boundary: nothing in a layer imports from any layer above it. */
const layerRules = LAYERS.slice(0, -1).map((layer, i) => ({
  name: `layer-${layer.name}`,
  severity: 'error',
  comment: `${layer.name} imports only from its own layer and those below it, never from ${LAYERS.slice(i + 1)
    .map((above) => above.name)
    .join(', ')}.`,
  from: { path: layer.path },
  to: { path: LAYERS.slice(i + 1).map((above) => above.path) },
}));

/**
 * What bench/ and tools/ may import of the product: its public entry points.
 * - gateway/: each folder's index.ts; gateway.ts (createGateway, the composition root) and
 *   config.ts (configFromEnv, defaultConfig), the gateway's own public face. Never
 *   gateway/index.ts, which starts a server when loaded.
 * - functions/: it has no single index, by design (a gateway loads the light CLIP core, a
 *   function the heavy one): its top-level modules (options.ts, protocol.ts, models.ts, ...) and
 *   each folder's index.ts. Beside those, entries that a rule through an index would make absurd,
 *   because an index that re-exported them would load what they load for every caller:
 *   - functions/clip/model.ts: ClipModel, the CLIP core's heavy entry (ONNX Runtime), as
 *     functions/clip/index.ts says;
 *   - functions/clip/tokenizer.ts (loads the tokenizers package; bench/run.ts times it), and
 *     gpu-info.ts, cuda-provider.ts, placement.ts (nvidia-smi, ONNX Runtime's providers and
 *     profiles; what tools/gpu-check.ts exists to run);
 *   - functions/handlers/serve-settings.ts and model-from-env.ts: the variables the function's
 *     processes read, which tools/config-reference.ts documents.
 */
const PUBLIC_ENTRIES = [
  '^gateway/[^/]+/index\\.ts$',
  '^gateway/(gateway|config)\\.ts$',
  '^functions/[^/]+\\.ts$',
  '^functions/[^/]+/index\\.ts$',
  '^functions/clip/(model|tokenizer|gpu-info|cuda-provider|placement)\\.ts$',
  '^functions/handlers/(serve-settings|model-from-env)\\.ts$',
];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import circles: each one ties its files into one unit that can only be read, tested and changed together.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'functions-not-gateway',
      severity: 'error',
      comment:
        'The CLIP function runs without the gateway (on Lambda, on a GPU host): functions/ never imports gateway/, bench/ or tools/.',
      from: { path: '^functions/' },
      to: { path: '^(gateway|bench|tools)/' },
    },
    {
      name: 'gateway-not-bench-tools',
      severity: 'error',
      comment: 'The gateway ships without its benchmarks and command-line tools.',
      from: { path: '^gateway/' },
      to: { path: '^(bench|tools)/' },
    },
    {
      name: 'gateway-file-in-a-layer',
      severity: 'error',
      comment:
        'Every file of gateway/ belongs to a layer of LAYERS in .dependency-cruiser.cjs: a new folder or file at its root gets its place there.',
      from: { path: '^gateway/', pathNot: LAYERS.map((layer) => layer.path) },
      to: {},
    },
    // functions/' own boundary is functions-not-gateway above, said in the words of the project's rule.
    ...layerRules.slice(1),
    {
      name: 'schema-store-through-catalogue',
      severity: 'error',
      comment:
        "The GraphQL layer reaches the catalogue's store only through catalogue/ (its services and the row types its index exports), never the store itself.",
      from: { path: '^gateway/schema/' },
      to: { path: '^gateway/store/' },
    },
    {
      name: 'bench-tools-public-entries',
      severity: 'error',
      comment:
        'bench/ and tools/ use the gateway and the functions through their public entry points (PUBLIC_ENTRIES in .dependency-cruiser.cjs).',
      from: { path: '^(bench|tools)/' },
      to: { path: '^(gateway|functions)/', pathNot: PUBLIC_ENTRIES },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)node_modules/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
