/**
 * The app in Debian's Chromium: slide list, tiles drawn (pixels checked
 * against the server), the 40× preset, the scale bar against MPP, keyboard
 * shortcuts and the deep link across a reload.
 */
import sharp from 'sharp';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dziMaxLevel } from '../../src/core/tile-grid.js';
import { signInBrowser } from '../helpers/accounts.js';
import { HAS_CHROMIUM, CHROMIUM, launchChromium } from '../helpers/browser.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';

interface View {
  x: number;
  y: number;
  zoom: number;
}

let server: TestServer;
let browser: Browser;
const ids = new Map<string, string>();
const SLIDE = 'slides/aperio-jpeg-256-x2.svs'; // 3000×2000, 0.25 µm/px, 40×

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM} (apt-get install chromium)\n`);

async function openApp(hash = ''): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await signInBrowser(page, server);
  page.on('pageerror', (e) => process.stdout.write(`[browser] page error: ${e.message}\n`));
  await page.goto(`${server.url}/?drawer=canvas${hash}`);
  return page;
}

function viewer(page: Page): Promise<void> {
  return page.waitForFunction(() => {
    const v = document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer') as (HTMLElement & { isFullyLoaded(): boolean }) | null;
    return !!v && v.isFullyLoaded();
  }, undefined, { timeout: 60_000 }).then(() => undefined);
}

function getView(page: Page): Promise<View> {
  return page.evaluate(() => {
    const v = document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer') as HTMLElement & { getView(): View | null };
    return v.getView() as View;
  });
}

async function settle(page: Page): Promise<void> {
  // the view's animation has reached its target (zoom and centre), then every tile of the view is drawn
  await page.waitForFunction(() => {
    type Point = { x: number; y: number };
    const v = document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer') as (HTMLElement & { openSeadragon?: { viewport: { getZoom(current?: boolean): number; getCenter(current?: boolean): Point } } }) | null;
    const vp = v?.openSeadragon?.viewport;
    if (!vp) return false;
    // (about a zoom point, OpenSeadragon computes the target centre, which can differ from the current one in the last bits)
    const near = (a: number, b: number): boolean => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
    const [c, t] = [vp.getCenter(true), vp.getCenter(false)];
    return near(vp.getZoom(true), vp.getZoom(false)) && near(c.x, t.x) && near(c.y, t.y);
  }, undefined, { timeout: 60_000 });
  await viewer(page);
}

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  server = await startTestServer(FIXTURES);
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  for (const s of body.slides) ids.set(s.name, s.id);
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

describe.skipIf(!HAS_CHROMIUM)('viewer in Chromium', () => {
  it('lists slides with thumbnails and status, opens one and draws its tiles', async () => {
    const page = await openApp();
    await page.locator('[data-testid=slide-item]').first().waitFor();
    expect(await page.locator('[data-testid=slide-item]').count()).toBe(ids.size);
    await expect.poll(() => page.locator('[data-testid=slide-error]').count()).toBeGreaterThan(10);
    // thumbnails in view (they load lazily) decode
    await page.waitForFunction(() => {
      const imgs = [...(document.querySelector('wsi-app')?.shadowRoot?.querySelectorAll('img') ?? [])].filter((i) => i.getBoundingClientRect().top < innerHeight);
      return imgs.length >= 3 && imgs.every((i) => i.complete && i.naturalWidth > 0);
    });

    await page.locator(`[data-slide="${ids.get(SLIDE)}"]`).click();
    await viewer(page);
    const view = await getView(page);
    // sample the canvas at points of the image and compare with the server's pixels there
    const samples = await page.evaluate((pts) => {
      interface Osd {
        drawer: { canvas: HTMLCanvasElement };
        world: { getItemAt(i: number): { imageToViewportCoordinates(x: number, y: number, current: boolean): unknown } };
        viewport: { viewportToViewerElementCoordinates(p: unknown): { x: number; y: number } };
      }
      const v = document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer') as HTMLElement & { openSeadragon: Osd };
      const osd = v.openSeadragon;
      const canvas = osd.drawer.canvas;
      const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
      const item = osd.world.getItemAt(0);
      const all = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let sum = 0;
      let sum2 = 0;
      for (let i = 0; i < all.length; i += 4) {
        const g = (all[i] + all[i + 1] + all[i + 2]) / 3;
        sum += g;
        sum2 += g * g;
      }
      const n = all.length / 4;
      const out = pts.map(([x, y]) => {
        const p = osd.viewport.viewportToViewerElementCoordinates(item.imageToViewportCoordinates(x, y, true));
        const cx = Math.round(p.x * window.devicePixelRatio);
        const cy = Math.round(p.y * window.devicePixelRatio);
        const d = ctx.getImageData(cx - 2, cy - 2, 5, 5).data;
        const m = [0, 0, 0];
        for (let i = 0; i < d.length; i += 4) for (let c = 0; c < 3; c++) m[c] += d[i + c] / 25;
        return m;
      });
      return { std: Math.sqrt(sum2 / n - (sum / n) ** 2), points: out };
    }, [[1500, 1000], [900, 700], [2100, 1300], [600, 1500], [2500, 500]] as Array<[number, number]>);
    expect(samples.std).toBeGreaterThan(15);
    for (const [i, [x, y]] of ([[1500, 1000], [900, 700], [2100, 1300], [600, 1500], [2500, 500]] as Array<[number, number]>).entries()) {
      const side = Math.round(5 / view.zoom);
      const res = await fetch(`${server.url}/iiif/${ids.get(SLIDE)}/${x - Math.floor(side / 2)},${y - Math.floor(side / 2)},${side},${side}/1,1/0/default.png`);
      const ref = await sharp(Buffer.from(await res.arrayBuffer())).raw().toBuffer();
      const got = samples.points[i] as number[];
      for (let c = 0; c < 3; c++) expect(Math.abs((got[c] as number) - (ref[c] as number)), `point ${x},${y} channel ${c}`).toBeLessThan(25);
    }
    await page.close();
  });

  it('the 40× preset shows full-resolution tiles and says 40×', async () => {
    const page = await openApp();
    const requested: string[] = [];
    page.on('request', (r) => requested.push(r.url()));
    await page.locator(`[data-slide="${ids.get(SLIDE)}"]`).click();
    await viewer(page);
    await page.locator('[data-testid="preset-40"]').click();
    await settle(page);
    expect(await page.locator('[data-testid=magnification]').textContent()).toBe('40×');
    expect((await getView(page)).zoom).toBeCloseTo(1, 3);
    const max = dziMaxLevel(3000, 2000);
    expect(requested.some((u) => u.includes(`/dzi/${ids.get(SLIDE)}_files/${max}/`))).toBe(true);
    await page.close();
  });

  it('the scale bar measures what the MPP says, at several zooms', async () => {
    const page = await openApp();
    await page.locator(`[data-slide="${ids.get(SLIDE)}"]`).click();
    await viewer(page);
    for (const preset of ['fit', '2.5', '20']) {
      await page.locator(`[data-testid="preset-${preset}"]`).click();
      await settle(page);
      const view = await getView(page);
      const bar = page.locator('[data-testid=scalebar]');
      const label = (await bar.locator('.label').textContent()) ?? '';
      const px = Number(await bar.getAttribute('data-px'));
      const m = /^([\d.]+) (µm|mm)$/.exec(label.trim());
      expect(m, label).not.toBeNull();
      const um = Number(m?.[1]) * (m?.[2] === 'mm' ? 1000 : 1);
      const drawnWidth = await bar.locator('.bar').evaluate((el) => el.getBoundingClientRect().width);
      expect(Math.abs(drawnWidth - px)).toBeLessThan(1);
      // µm per screen pixel from the bar equals MPP / zoom
      expect(um / px / (0.25 / view.zoom)).toBeCloseTo(1, 2);
    }
    await page.close();
  });

  it('says so when a slide has no MPP', async () => {
    const page = await openApp();
    await page.locator(`[data-slide="${ids.get('broken/read-16-resolution-zero-denominator.tif')}"]`).click();
    await viewer(page);
    expect(await page.locator('[data-testid=scalebar] .label').textContent()).toContain('no MPP');
    // the presets read as what they are: zoom factors of the full resolution, not magnifications (issue 11)
    const labels = await page.locator('[data-testid^="preset-"]:not([data-testid="preset-fit"])').allTextContents();
    expect(labels.map((l) => l.trim())).toEqual(['3.1%', '6.3%', '13%', '25%', '50%', '100%']);
    await page.locator('[data-testid="preset-40"]').click();
    await settle(page);
    expect(await page.locator('[data-testid=magnification]').textContent()).toBe('100%');
    await page.close();
  });

  it('marks presets above a 20× scan as digital zoom, and the readout too (issue 11)', async () => {
    const page = await openApp();
    await page.locator(`[data-slide="${ids.get('slides/aperio-jp2k-rgb-33005.svs')}"]`).click();
    await viewer(page);
    const p40 = page.locator('[data-testid="preset-40"]');
    expect(await p40.getAttribute('class')).toBe('digital');
    expect(await p40.getAttribute('title')).toMatch(/digital zoom, past the 20× scan/);
    expect(await page.locator('[data-testid="preset-20"]').getAttribute('class')).toBe('');
    await p40.click();
    await settle(page);
    expect(await page.locator('[data-testid=magnification]').textContent()).toBe('40× digital');
    await page.screenshot({ path: '/tmp/i11-digital.png' });
    await page.close();
  });

  it('keyboard shortcuts switch magnification and fit', async () => {
    const page = await openApp();
    await page.locator(`[data-slide="${ids.get(SLIDE)}"]`).click();
    await viewer(page);
    await page.keyboard.press('3');
    await settle(page);
    expect(await page.locator('[data-testid=magnification]').textContent()).toBe('5×');
    await page.keyboard.press('6');
    await settle(page);
    expect(await page.locator('[data-testid=magnification]').textContent()).toBe('40×');
    await page.keyboard.press('0');
    await settle(page);
    expect((await getView(page)).zoom).toBeLessThan(0.5);
    await page.close();
  });

  it('the deep link returns to the same slide and place after a reload', async () => {
    const page = await openApp();
    await page.locator(`[data-slide="${ids.get(SLIDE)}"]`).click();
    await viewer(page);
    await page.evaluate(() => {
      const v = document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer') as HTMLElement & { goTo(v: View, now: boolean): void };
      v.goTo({ x: 2211, y: 1333, zoom: 0.75 }, true);
    });
    await page.waitForFunction(() => location.hash.includes('zoom=0.75'));
    const before = await getView(page);
    const hash = await page.evaluate(() => location.hash);
    expect(hash).toContain(`slide=${ids.get(SLIDE)}`);
    await page.reload();
    await viewer(page);
    const after = await getView(page);
    expect(Math.abs(after.x - before.x)).toBeLessThan(1.5);
    expect(Math.abs(after.y - before.y)).toBeLessThan(1.5);
    expect(after.zoom / before.zoom).toBeCloseTo(1, 3);
    await page.close();
  });

  it('a broken slide shows its error code in the viewer', async () => {
    const page = await openApp();
    await page.locator(`[data-slide="${ids.get('broken/read-01-png-renamed.svs')}"]`).click();
    await expect.poll(() => page.locator('[data-testid=viewer-error]').textContent()).toContain('NOT_A_TIFF');
    await page.close();
  });
});
