import { chromium, type Browser, type Page } from 'playwright-core';

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

/** Fills in the login form the page shows (or is on its way to), as a person would, and waits until it sends them on. */
export async function logInThroughPage(page: Page, account: { username: string; password: string }): Promise<void> {
  await page.waitForURL((url) => url.pathname === '/login.html');
  await page.getByLabel('Username').fill(account.username);
  await page.getByLabel('Password').fill(account.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL((url) => url.pathname !== '/login.html');
}
