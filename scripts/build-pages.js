#!/usr/bin/env node
// Bundles the gateway's two browser pages, side by side:
// - the schema explorer (GraphiQL, gateway/explorer/page/) into dist/explorer/: the page's HTML,
//   its script (and the chunks it loads on demand), one stylesheet and Monaco's three web workers,
//   served at /graphiql (gateway/explorer/index.ts);
// - the web console (gateway/console/page/, TypeScript and Chart.js) into dist/console/: its HTML,
//   one script and one stylesheet, served at /console (gateway/console/index.ts), and the list of
//   its GraphQL operations (persisted-query-manifest.json) for a safelisting gateway.
// Nothing in them loads from another origin. Part of `npm run build`; takes a second or two.
'use strict';
const { createHash } = require('node:crypto');
const { copyFileSync, mkdirSync, rmSync, writeFileSync } = require('node:fs');
const { dirname, join, relative } = require('node:path');

const esbuild = require('esbuild');

const root = join(__dirname, '..');
const source = join(root, 'gateway', 'explorer', 'page');
const out = join(root, 'dist', 'explorer');
const consoleSource = join(root, 'gateway', 'console', 'page');
const consoleOut = join(root, 'dist', 'console');

/** A module as @graphiql/react resolves it: Monaco's packages are its dependencies, not ours. */
const graphiqlReact = dirname(
  require.resolve('@graphiql/react/package.json', { paths: [dirname(require.resolve('graphiql/package.json'))] }),
);
const resolve = (id) => require.resolve(id, { paths: [graphiqlReact] });

/**
 * Monaco's modules import their own stylesheets; graphiql/style.css already holds all of them
 * (fonts inlined). Left in, they would come out as a second copy in stylesheets nothing loads.
 */
const monacoStylesInGraphiQL = {
  name: 'monaco-styles-in-graphiql',
  setup(build) {
    build.onResolve({ filter: /\.css$/ }, (args) =>
      /[\\/]monaco-editor[\\/]/.test(args.importer) ? { path: args.path, namespace: 'monaco-style' } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'monaco-style' }, () => ({ contents: '', loader: 'empty' }));
  },
};

const common = {
  bundle: true,
  minify: true,
  target: 'es2022',
  platform: 'browser',
  logLevel: 'warning',
  outdir: out,
  define: { 'process.env.NODE_ENV': '"production"' },
};

/**
 * The console's operations (gateway/console/page/operations.ts) as a persisted query list in
 * Apollo's manifest format, beside the page: the list a gateway run with PERSISTED_QUERIES=safelist
 * needs to serve the console. Each id is the SHA-256 of the operation's text, the hash Apollo's
 * clients send.
 */
async function writeConsoleManifest() {
  const { outputFiles } = await esbuild.build({
    entryPoints: [join(consoleSource, 'operations.ts')],
    tsconfig: join(consoleSource, 'tsconfig.json'),
    bundle: true,
    write: false,
    format: 'cjs',
    platform: 'node',
    logLevel: 'warning',
  });
  const module = { exports: {} };
  new Function('module', 'exports', outputFiles[0].text)(module, module.exports);
  const operations = Object.entries(module.exports.OPERATIONS).map(([name, body]) => ({
    id: createHash('sha256').update(body).digest('hex'),
    name,
    type: /^\s*(mutation|subscription)\b/.exec(body)?.[1] ?? 'query',
    body,
  }));
  const manifest = { format: 'apollo-persisted-query-manifest', version: 1, operations };
  writeFileSync(join(consoleOut, 'persisted-query-manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
}

async function main() {
  const started = performance.now();
  for (const dir of [out, consoleOut]) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
  }
  await Promise.all([
    esbuild.build({
      ...common,
      outdir: consoleOut,
      // The stylesheet main.ts imports comes out beside it as console.css.
      entryPoints: { console: join(consoleSource, 'main.ts') },
      tsconfig: join(consoleSource, 'tsconfig.json'),
      format: 'esm',
    }),
    esbuild.build({
      ...common,
      entryPoints: { graphiql: join(source, 'main.tsx') },
      tsconfig: join(source, 'tsconfig.json'),
      // An ES module split at its dynamic imports: Prettier (for the prettify button) loads only when used.
      format: 'esm',
      splitting: true,
      chunkNames: 'chunks/[name]-[hash]',
      plugins: [monacoStylesInGraphiQL],
      // Any font a stylesheet references becomes a file next to it (GraphiQL's are inlined).
      loader: { '.ttf': 'file', '.woff': 'file', '.woff2': 'file' },
      assetNames: '[name]-[hash]',
    }),
    esbuild.build({
      ...common,
      entryPoints: {
        'editor.worker': resolve('monaco-editor/esm/vs/editor/editor.worker.js'),
        'json.worker': resolve('monaco-editor/esm/vs/language/json/json.worker.js'),
        'graphql.worker': resolve('monaco-graphql/esm/graphql.worker.js'),
      },
      // Classic workers: the page starts them with `new Worker(url)`.
      format: 'iife',
    }),
    writeConsoleManifest(),
  ]);
  copyFileSync(join(source, 'index.html'), join(out, 'index.html'));
  copyFileSync(join(consoleSource, 'index.html'), join(consoleOut, 'index.html'));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  process.stderr.write(
    `Bundled the explorer and the console into ${relative(root, out)}/ and ${relative(root, consoleOut)}/ in ${seconds} s.\n`,
  );
}

main().catch((error) => {
  process.stderr.write(`${error?.stack ?? error}\n`);
  process.exit(1);
});
