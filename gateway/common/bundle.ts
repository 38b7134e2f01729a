import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

import express, { type Router } from 'express';

/**
 * A bundle's directory, `dist/<name>` under the package root (the nearest folder above with a
 * package.json), so the same code finds it from the sources under jest and from `dist/`.
 */
export function bundleDir(name: string, from: string = __dirname): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', name);
    if (dirname(dir) === dir) return join(from, 'dist', name);
  }
}

export interface BundleRouterOptions {
  /** The directory holding index.html and the files it loads. */
  dir: string;
  /** Where the router is mounted: the page's one address (a trailing slash redirects to it). */
  route: string;
  /** What the bundle is, in lower case, for the messages ("the web console"). */
  title: string;
  /** Sent with the page and every file. */
  contentSecurityPolicy: string;
}

/**
 * A page built by `npm run build` and served offline: the page at `route` and every file it loads
 * below it. Without the bundle the page answers 503 and says what to run.
 */
export function bundleRouter({ dir, route, title, contentSecurityPolicy }: BundleRouterOptions): Router {
  const router = express.Router();
  const page = join(dir, 'index.html');
  router.use((_req, res, next) => {
    res.setHeader('content-security-policy', contentSecurityPolicy);
    res.setHeader('x-content-type-options', 'nosniff');
    next();
  });
  router.get('/', (req, res) => {
    if (req.originalUrl.split('?')[0]!.endsWith('/')) {
      // The page's files are named from `route`; one page address keeps it simple.
      res.redirect(301, route);
      return;
    }
    if (!existsSync(page)) {
      const sentence = title.charAt(0).toUpperCase() + title.slice(1);
      res.status(503).type('text/plain').send(`${sentence} is not built (no ${page}): run \`npm run build\`, then reload.\n`);
      return;
    }
    res.setHeader('cache-control', 'no-cache');
    res.sendFile(page);
  });
  // Revalidated on each load (ETag): the names carry no content hash, and a rebuild shows at once.
  router.use(express.static(dir, { index: false, redirect: false }));
  router.use((_req, res) => {
    res.status(404).type('text/plain').send(`No such file in the bundle of ${title}.\n`);
  });
  return router;
}
