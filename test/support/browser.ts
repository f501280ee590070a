import { chromium, type Browser } from 'playwright-core';

/**
 * Debian's Chromium, never a downloaded one. The flags keep it from reaching for the
 * network at start, which this machine (and many deployments) refuse.
 */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
