import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import express, { type Router } from 'express';

/** Where scripts/build-explorer.js writes the bundled explorer, relative to the package root. */
export const EXPLORER_BUNDLE_PATH = join('dist', 'explorer');

/** Where the gateway serves the explorer: the page, and its files below it. */
export const EXPLORER_ROUTE = '/graphiql';

/**
 * The bundled explorer's directory, found from the package root (the nearest folder above with a
 * package.json), so the same code finds it from the sources under jest and from `dist/`.
 */
export function explorerBundleDir(from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, EXPLORER_BUNDLE_PATH);
    if (dirname(dir) === dir) return join(from, EXPLORER_BUNDLE_PATH);
  }
}

/** Same-origin files only, and inline styles (Monaco and GraphiQL's menus set them); no eval, no framing. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "worker-src 'self'",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/**
 * GraphiQL, served offline: the page at `/graphiql` and every file it loads below it, from the
 * bundle that `npm run build` writes. Without the bundle the page answers 503 and says so.
 */
export function explorer(bundleDir: string = explorerBundleDir()): Router {
  const router = express.Router();
  const page = join(bundleDir, 'index.html');
  router.use((_req, res, next) => {
    res.setHeader('content-security-policy', CONTENT_SECURITY_POLICY);
    res.setHeader('x-content-type-options', 'nosniff');
    next();
  });
  router.get('/', (req, res) => {
    if (req.originalUrl.split('?')[0]!.endsWith('/')) {
      // The page's files are named from /graphiql; one page address keeps it simple.
      res.redirect(301, EXPLORER_ROUTE);
      return;
    }
    if (!existsSync(page)) {
      res
        .status(503)
        .type('text/plain')
        .send(`The GraphiQL explorer is not built (no ${EXPLORER_BUNDLE_PATH}/index.html): run \`npm run build\`, then reload.\n`);
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(page);
  });
  // Revalidated on each load (ETag): the names carry no content hash, and a rebuild shows at once.
  router.use(express.static(bundleDir, { index: false, redirect: false }));
  router.use((_req, res) => {
    res.status(404).type('text/plain').send(`No such file in the explorer's bundle.\n`);
  });
  return router;
}
