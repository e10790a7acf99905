/**
 * Debian's Chromium through playwright-core (shared with the benchmarks).
 * The tests drive pages with string expressions, which Playwright runs
 * through `new Function`; the app's Content-Security-Policy (no eval) refuses
 * that, so test pages bypass the policy unless a test says otherwise.
 * tests/browser/first-start.test.ts runs the app with the policy enforced.
 */
import type { Browser } from 'playwright-core';
import { launchChromium as launch } from '../../scripts/chromium.js';

export { CHROMIUM, HAS_CHROMIUM } from '../../scripts/chromium.js';

export async function launchChromium(): Promise<Browser> {
  const browser = await launch();
  const newContext = browser.newContext.bind(browser);
  const newPage = browser.newPage.bind(browser);
  browser.newContext = (options = {}) => newContext({ bypassCSP: true, ...options });
  browser.newPage = (options = {}) => newPage({ bypassCSP: true, ...options });
  return browser;
}
