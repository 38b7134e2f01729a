import { existsSync } from 'node:fs';

import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium: the browser tests drive the system's browser and never download one. */
export const CHROMIUM = '/usr/bin/chromium';

/** Headless, and quiet: nothing of its own reaches for the network. */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** The system Chromium, or an error saying how to install it. */
export function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `No Chromium at ${CHROMIUM}: install it with \`apt-get update && apt-get install -y chromium\` (the browser tests never download a browser).`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}
