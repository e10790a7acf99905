/**
 * The example tool added through the registry alone (src/tools/count-points-tool.ts):
 * its button, key and help entry appear, clicks add points of the current
 * class, and its panel section counts the points per class in view and
 * follows the view.
 */
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInBrowser } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { VIEWER_SLIDES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, imageToPage, storeRecords, waitAnnotationsLoaded, waitSaved } from '../helpers/viewer-page.js';

let browser: Browser;
let srv: TestServer;
let slide = '';

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  browser = await launchChromium();
  srv = await startTestServer(VIEWER_SLIDES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${srv.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'aperio-jpeg-256-x2.svs')?.id ?? '';
});

afterAll(async () => {
  await browser?.close();
  await srv?.stop();
});

async function click(page: Page, x: number, y: number): Promise<void> {
  const p = await imageToPage(page, x, y);
  await page.mouse.click(p.x, p.y);
  await page.waitForTimeout(350); // beyond the double-click window
}

const counts = (page: Page): Promise<string | null> => page.locator('wsi-annotation-panel [data-testid=point-counts]').textContent();

describe.skipIf(!HAS_CHROMIUM)('the count points tool', () => {
  it('adds points and counts them per class in view', async () => {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await signInBrowser(page, srv);
    await page.goto(`${srv.url}/?drawer=canvas#slide=${slide}`);
    await waitAnnotationsLoaded(page);
    await page.evaluate(`(${VIEWER}).goTo({ x: 1000, y: 800, zoom: 1 }, true)`);
    await page.waitForFunction(`(${VIEWER}).isFullyLoaded()`);
    await page.locator('wsi-viewer').focus();
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=tool-count]').textContent()).toMatch(/Count points\s*c/);
    await page.locator('wsi-viewer').press('c');
    expect(await page.evaluate(`(${VIEWER}).tools.active.spec.id`)).toBe('count');
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=point-count-total]').textContent()).toBe('0');
    await page.locator('wsi-viewer').press('t');
    for (const [x, y] of [[900, 700], [950, 720], [1000, 760]] as const) await click(page, x, y);
    await page.locator('wsi-viewer').press('s');
    await click(page, 1100, 900);
    await waitSaved(page);
    expect((await storeRecords(page)).map((r) => `${r.kind}:${r.classification}`).sort()).toEqual(['point:Stroma', 'point:Tumour', 'point:Tumour', 'point:Tumour']);
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=point-count-total]').textContent()).toBe('4');
    expect(await counts(page)).toMatch(/Tumour:\s*3/);
    expect(await counts(page)).toMatch(/Stroma:\s*1/);
    // the counts follow the view: away from the points there are none
    await page.evaluate(`(${VIEWER}).goTo({ x: 3000, y: 2000, zoom: 2 }, true)`);
    await expect.poll(() => page.locator('wsi-annotation-panel [data-testid=point-count-total]').textContent()).toBe('0');
    // and the help lists the tool
    await page.locator('wsi-viewer').press('?');
    expect(await page.locator('wsi-viewer [data-testid=help]').textContent()).toContain('Count points');
    await page.close();
  });
});
