import type { Router } from 'express';

import { bundleDir, bundleRouter } from '../common/bundle';

/** Where the gateway serves the web console: the page, and its files below it. */
export const CONSOLE_ROUTE = '/console';

/** Where scripts/build-pages.js writes the bundled console, found from the package root. */
export function consoleBundleDir(from: string = __dirname): string {
  return bundleDir('console', from);
}

/**
 * The console's code and styles come from the gateway alone; product pictures are the shop's,
 * wherever its images live (their URLs as upserted), and a picked file shows from a blob: URL.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob: http: https:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** The web console (classify, similarity, catalogue, model), served offline at `/console`. */
export function webConsole(dir: string = consoleBundleDir()): Router {
  return bundleRouter({ dir, route: CONSOLE_ROUTE, title: 'the web console', contentSecurityPolicy: CONTENT_SECURITY_POLICY });
}
