import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

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

/**
 * Collects every Content-Security-Policy violation in the context's pages: the browser's own
 * console report and the `securitypolicyviolation` event, which also catches what it does not
 * log (an inline style attribute set from script, say).
 */
export async function watchContentSecurity(context: BrowserContext): Promise<string[]> {
  const violations: string[] = [];
  // A string, because it runs in the page, and the Node project's types know no DOM.
  await context.addInitScript(`document.addEventListener('securitypolicyviolation', (event) => {
    console.error('CSP violation: ' + event.violatedDirective + ' blocked ' + (event.blockedURI || 'inline') + ' at ' + event.sourceFile + ':' + event.lineNumber);
  });`);
  context.on('console', (message) => {
    if (/Content Security Policy|CSP violation/.test(message.text())) violations.push(`${message.location().url}: ${message.text()}`);
  });
  return violations;
}
