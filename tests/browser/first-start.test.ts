/**
 * The README's first start, in a browser: a server on an empty store and
 * an empty slide folder prints a one-time setup link; the app sends a
 * visitor without a session to the sign-in page; the link creates the
 * administrator and lands on the slide list, where the sample slide opens
 * and draws, under the app's own Content-Security-Policy (this test does
 * not bypass it, and drives the page with functions, never strings). Signing out says what is not on the server yet and takes it
 * out of the browser; signing in again works; the used link and a wrong
 * password are refused with a message, not a blank page.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setupTokenIn, TEST_PASSWORD } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { imageToPage } from '../helpers/viewer-page.js';

interface ViewerHandle {
  isFullyLoaded?(): boolean;
  annotationSession?: { progress?: { done: boolean }; sync: { snapshot: { queued: number } }; store: { size: number } };
}

// The page is driven with functions (sent through DevTools), never strings: its policy allows no eval.
const fullyLoaded = (page: Page): Promise<boolean> => page.locator('wsi-viewer').evaluate((el) => (el as unknown as ViewerHandle).isFullyLoaded?.() === true);
const annotationsLoaded = (page: Page): Promise<boolean> => page.locator('wsi-viewer').evaluate((el) => (el as unknown as ViewerHandle).annotationSession?.progress?.done === true);
const queued = (page: Page): Promise<number | undefined> => page.locator('wsi-viewer').evaluate((el) => (el as unknown as ViewerHandle).annotationSession?.sync.snapshot.queued);
const objects = (page: Page): Promise<number | undefined> => page.locator('wsi-viewer').evaluate((el) => (el as unknown as ViewerHandle).annotationSession?.store.size);

let browser: Browser;
let server: TestServer;
let slides = '';

beforeAll(async () => {
  if (!HAS_CHROMIUM) {
    process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);
    return;
  }
  slides = await mkdtemp(join(tmpdir(), 'wsi-first-browser-'));
  server = await startTestServer(slides, { SAMPLE_SLIDE: '1', SAMPLE_SIZE: '4096' }, { signIn: false });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  if (slides) await rm(slides, { recursive: true, force: true });
});

describe.skipIf(!HAS_CHROMIUM)('the first start in a browser', () => {
  it('goes from the printed setup link to a drawn slide, and signs out and in again', async () => {
    const link = /(http:\/\/\S+\/signin\.html#setup=\S+)/.exec(server.output())?.[1];
    expect(link, server.output()).toBeTruthy();
    expect(setupTokenIn(server.output())).toBeTruthy();
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, bypassCSP: false });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));

    // no session: the app sends the visitor to the sign-in page
    await page.goto(`${server.url}/`);
    await page.waitForURL(/\/signin\.html\?next=/);

    // the printed link: create the administrator
    await page.goto(link as string);
    await expect.poll(() => page.locator('#title').textContent()).toBe('Create the administrator');
    await page.fill('#username', 'pathologist');
    await page.fill('#password', 'short');
    await page.click('#submit');
    await expect.poll(() => page.locator('[data-testid=signin-problem]').textContent()).toMatch(/12/);
    await page.fill('#password', TEST_PASSWORD);
    await page.click('#submit');
    await page.waitForURL(`${server.url}/`);

    // the slide list holds the sample slide; it opens and draws
    const item = page.locator('[data-testid=slide-item]');
    await item.first().waitFor({ timeout: 30_000 });
    expect(await item.count()).toBe(1);
    expect(await page.locator('[data-testid=signed-in-as]').textContent()).toBe('pathologist');
    await expect.poll(() => page.locator('[data-testid=project]').allTextContents()).toEqual(['Default · manager']);
    await item.first().click();
    await expect.poll(() => fullyLoaded(page), { timeout: 30_000 }).toBe(true);

    // an edit that cannot reach the server (its requests fail), then sign out: the app says so first
    await expect.poll(() => annotationsLoaded(page), { timeout: 30_000 }).toBe(true);
    await page.route('**/annotations/batch', (r) => r.abort('internetdisconnected'));
    await page.locator('wsi-viewer').focus();
    await page.locator('wsi-viewer').press('k');
    const at = await imageToPage(page, 2048, 2048);
    await page.mouse.click(at.x, at.y);
    await expect.poll(() => queued(page)).toBe(1);
    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      void d.dismiss();
    });
    await page.locator('[data-testid=sign-out]').click();
    await expect.poll(() => asked.length).toBe(1);
    expect(asked[0]).toMatch(/1 edit is not on the server yet/);
    expect(page.url()).not.toMatch(/signin/);
    page.once('dialog', (d) => void d.accept());
    await page.locator('[data-testid=sign-out]').click();
    await page.waitForURL(/\/signin\.html/);
    await page.unroute('**/annotations/batch');
    expect((await page.request.get(`${server.url}/api/slides`)).status()).toBe(401);

    // the used link is refused with a message
    await page.goto(link as string);
    await page.fill('#username', 'mallory');
    await page.fill('#password', TEST_PASSWORD);
    await page.click('#submit');
    await expect.poll(() => page.locator('[data-testid=signin-problem]').textContent()).toMatch(/setup is already done|invalid, used or expired/);

    // a wrong password, then the right one
    await page.goto(`${server.url}/signin.html?next=${encodeURIComponent('/')}`);
    await page.fill('#username', 'pathologist');
    await page.fill('#password', 'not the right password');
    await page.click('#submit');
    await expect.poll(() => page.locator('[data-testid=signin-problem]').textContent()).toMatch(/login name or password is wrong/);
    await page.fill('#password', TEST_PASSWORD);
    await page.click('#submit');
    await page.waitForURL(`${server.url}/`);
    await item.first().waitFor();
    // the unsent edit left the browser with the user: the slide opens without it
    await item.first().click();
    await expect.poll(() => annotationsLoaded(page), { timeout: 30_000 }).toBe(true);
    expect(await objects(page)).toBe(0);
    expect(await queued(page)).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
