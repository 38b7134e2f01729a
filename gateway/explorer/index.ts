import type { Router } from 'express';

import { bundleDir, bundleRouter } from '../common/bundle';

/** Where the gateway serves the explorer: the page, and its files below it. */
export const EXPLORER_ROUTE = '/graphiql';

/** Where scripts/build-pages.js writes the bundled explorer, found from the package root. */
export function explorerBundleDir(from: string = __dirname): string {
  return bundleDir('explorer', from);
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

/** GraphiQL, served offline at `/graphiql`, from the bundle that `npm run build` writes. */
export function explorer(dir: string = explorerBundleDir()): Router {
  return bundleRouter({ dir, route: EXPLORER_ROUTE, title: 'the GraphiQL explorer', contentSecurityPolicy: CONTENT_SECURITY_POLICY });
}
