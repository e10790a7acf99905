/**
 * Layers per class (issue 11), in Chromium: the eye hides a class's objects
 * and its painted pixels (read back from the canvases), the opacity slider
 * scales the alpha drawn, a lock makes the tools refuse to edit or paint the
 * class — said in the status line, and nothing changes on the server — and
 * the settings come back after a reload (this user, this project). And the
 * panel they live in: a fixed header (save status, tools) over collapsible,
 * remembered sections, resizable from its edge, with the import report and
 * the save status on screen together at 1366×768.
 */
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, HAS_CHROMIUM } from '../helpers/browser.js';
import { maskValueAt, serverMask } from '../helpers/masks.js';
import { getJson, type TestServer } from '../helpers/server.js';
import { VIEWER, closeContexts, dragPath as drag, imageToPage, openViewer, overlayAlpha, startViewerRig, stopViewerRig, storeRecords, viewAt as view, waitAnnotationsLoaded, waitMaskSaved as maskSaved, waitSaved, type ViewerRig } from '../helpers/viewer-page.js';

let rig: ViewerRig;
let srv: TestServer;
let slide = '';
const PANEL = 'wsi-annotation-panel';
const LAYERS = `${PANEL} wsi-layers-table`;

/** With SCREENSHOTS=1 the panel's screenshots go to docs/ (as tests/browser/history.test.ts does). */
async function shot(page: Page, name: string): Promise<void> {
  if (process.env['SCREENSHOTS'] === '1') await page.screenshot({ path: `docs/${name}.png` });
}

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  rig = await startViewerRig();
  srv = rig.srv;
  slide = rig.slides.get('aperio-jpeg-256-x2.svs')?.id ?? '';
});

afterEach(() => closeContexts(rig));
afterAll(() => stopViewerRig(rig));

const open = (viewport = { width: 1400, height: 900 }): Promise<Page> => openViewer(rig, slide, { viewport });

async function key(page: Page, k: string): Promise<void> {
  await page.locator('wsi-viewer').press(k);
}

const alphaAt = overlayAlpha;
const serverTiles = (): Promise<Map<string, Buffer>> => serverMask(srv.url, slide, srv.admin?.id ?? '');
const valueAt = maskValueAt;

async function serverObjects(): Promise<Array<{ id: string; version: number; classification: string | null }>> {
  return (await getJson<{ annotations: Array<{ id: string; version: number; classification: string | null }> }>(`${srv.url}/api/slides/${slide}/annotations`)).body.annotations;
}

describe.skipIf(!HAS_CHROMIUM)('layers per class (issue 11)', () => {
  it('hides a class (objects and pixels leave the canvas), scales its alpha, keeps the choice after a reload, and a lock refuses edits and paint', async () => {
    const page = await open();
    await view(page, 1250, 500, 1);
    const classes = (await getJson<{ classes: Array<{ name: string; id: number }> }>(`${srv.url}/api/classes`)).body.classes;
    const id = (n: string): number => classes.find((c) => c.name === n)?.id as number;

    // a Tumour rectangle and a Lymphocytes stroke across it
    await key(page, 'r');
    await drag(page, [[1150, 420], [1350, 570]]);
    await waitSaved(page);
    await key(page, 'b');
    await key(page, 'l');
    await drag(page, [[1180, 495], [1320, 495]]);
    await maskSaved(page);
    await key(page, 'v');
    const fillPoint: [number, number] = [1200, 440]; // inside the rectangle, off the stroke
    const strokePoint: [number, number] = [1250, 495];
    await expect.poll(() => alphaAt(page, 'annotation-canvas', ...fillPoint), { timeout: 20_000 }).toBeGreaterThan(30);
    await expect.poll(() => alphaAt(page, 'mask-canvas', ...strokePoint), { timeout: 20_000 }).toBeGreaterThan(60);
    const fillFull = await alphaAt(page, 'annotation-canvas', ...fillPoint);
    const maskFull = await alphaAt(page, 'mask-canvas', ...strokePoint);

    // opacity: half the class's opacity, half the alpha drawn (objects and pixels)
    await page.locator(`${LAYERS} [data-testid=layer-opacity-Tumour]`).fill('0.5');
    await expect.poll(() => alphaAt(page, 'annotation-canvas', ...fillPoint), { timeout: 20_000 }).toBeLessThan(fillFull * 0.6);
    expect(Math.abs((await alphaAt(page, 'annotation-canvas', ...fillPoint)) - fillFull / 2)).toBeLessThanOrEqual(2);
    await page.locator(`${LAYERS} [data-testid=layer-opacity-Lymphocytes]`).fill('0.5');
    await expect.poll(() => alphaAt(page, 'mask-canvas', ...strokePoint), { timeout: 20_000 }).toBeLessThan(maskFull * 0.6);
    expect(Math.abs((await alphaAt(page, 'mask-canvas', ...strokePoint)) - maskFull / 2)).toBeLessThanOrEqual(2);

    // hidden: the class's objects and pixels are gone from the canvases; the others stay
    await page.locator(`${LAYERS} [data-testid=layer-visible-Tumour]`).uncheck();
    await expect.poll(() => alphaAt(page, 'annotation-canvas', ...fillPoint), { timeout: 20_000 }).toBe(0);
    expect(await alphaAt(page, 'annotation-canvas', 1150, 495)).toBe(0); // its outline too
    expect(await alphaAt(page, 'mask-canvas', ...strokePoint)).toBeGreaterThan(0);
    await page.locator(`${LAYERS} [data-testid=layer-visible-Lymphocytes]`).uncheck();
    await expect.poll(() => alphaAt(page, 'mask-canvas', ...strokePoint), { timeout: 20_000 }).toBe(0);

    // kept for this user and project: after a reload, still hidden, still at half
    await page.reload();
    await waitAnnotationsLoaded(page);
    await page.waitForFunction(`(${VIEWER}).annotationSession.mask?.loaded === true`);
    await view(page, 1250, 500, 1);
    expect(await page.locator(`${LAYERS} [data-testid=layer-visible-Tumour]`).isChecked()).toBe(false);
    expect(await page.locator(`${LAYERS} [data-testid=layer-visible-Lymphocytes]`).isChecked()).toBe(false);
    expect(await page.locator(`${LAYERS} [data-testid=layer-opacity-Tumour]`).inputValue()).toBe('0.5');
    // the layer has drawn since the reload, and the rectangle is not on the canvas
    await page.waitForFunction(`(${VIEWER}).annotationLayer.drawTimes.length > 0 && (${VIEWER}).annotationSession.store.size === 1`);
    await page.evaluate(`(${VIEWER}).annotationLayer.draw()`);
    expect(await alphaAt(page, 'annotation-canvas', ...fillPoint)).toBe(0);
    expect(await alphaAt(page, 'mask-canvas', ...strokePoint)).toBe(0);
    // shown again, at the half opacity it kept
    await page.locator(`${LAYERS} [data-testid=layer-visible-Tumour]`).check();
    await expect.poll(() => alphaAt(page, 'annotation-canvas', ...fillPoint), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(Math.abs((await alphaAt(page, 'annotation-canvas', ...fillPoint)) - fillFull / 2)).toBeLessThanOrEqual(2);
    await page.locator(`${LAYERS} [data-testid=layer-visible-Lymphocytes]`).check();
    await expect.poll(() => alphaAt(page, 'mask-canvas', ...strokePoint), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(Math.abs((await alphaAt(page, 'mask-canvas', ...strokePoint)) - maskFull / 2)).toBeLessThanOrEqual(2);
    await page.locator(`${LAYERS} [data-testid=layer-opacity-Tumour]`).fill('1');
    await page.locator(`${LAYERS} [data-testid=layer-opacity-Lymphocytes]`).fill('1');
    await expect.poll(() => alphaAt(page, 'annotation-canvas', ...fillPoint), { timeout: 20_000 }).toBe(fillFull);

    // locked: deleting the Tumour rectangle is refused, said in the status line, and the server keeps it as it was
    const before = await serverObjects();
    const rect = before.find((a) => a.classification === 'Tumour');
    expect(rect).toBeDefined();
    await page.locator(`${LAYERS} [data-testid=layer-lock-Tumour]`).check();
    await page.locator('wsi-viewer').focus();
    await key(page, 'v');
    const p = await imageToPage(page, ...fillPoint);
    await page.mouse.click(p.x, p.y);
    await expect.poll(() => page.evaluate(`(${VIEWER}).annotationSession.selection.size`)).toBe(1);
    await key(page, 'Delete');
    await expect.poll(() => page.locator(`${PANEL} [data-testid=annotate-message]`).textContent()).toMatch(/Tumour is locked/);
    expect((await storeRecords(page)).filter((r) => r.classification === 'Tumour')).toHaveLength(1);
    // relabelling it and drawing a new Tumour object are refused too
    await page.locator(`${PANEL} [data-testid=class-Necrosis]`).click();
    await page.locator(`${PANEL} [data-testid=set-class]`).click();
    await expect.poll(() => page.locator(`${PANEL} [data-testid=annotate-message]`).textContent()).toMatch(/Tumour is locked/);
    await page.locator(`${PANEL} [data-testid=class-Tumour]`).click();
    await key(page, 'r');
    await drag(page, [[1400, 420], [1500, 520]]);
    await expect.poll(() => page.locator(`${PANEL} [data-testid=annotate-message]`).textContent()).toMatch(/Tumour is locked/);
    expect(await storeRecords(page)).toHaveLength(1);
    await waitSaved(page);
    expect(await serverObjects()).toEqual(before);

    // a locked class is not painted with, and its pixels are left alone under another class's brush
    await page.locator(`${LAYERS} [data-testid=layer-lock-Lymphocytes]`).check();
    await page.locator('wsi-viewer').focus();
    await key(page, 'b');
    await key(page, 'l');
    const maskBefore = await serverTiles();
    await drag(page, [[1180, 530], [1320, 530]]);
    await expect.poll(() => page.locator(`wsi-mask-panel [data-testid=paint-message]`).textContent()).toMatch(/Lymphocytes is locked/);
    await maskSaved(page);
    expect(valueAt(await serverTiles(), 1250, 530)).toBe(0);
    await key(page, 'n');
    await drag(page, [[1250, 450], [1250, 540]]);
    await maskSaved(page);
    const after = await serverTiles();
    expect(valueAt(maskBefore, 1250, 495)).toBe(id('Lymphocytes'));
    expect(valueAt(after, 1250, 495)).toBe(id('Lymphocytes')); // crossed, kept
    expect(valueAt(after, 1250, 460)).toBe(id('Necrosis')); // unlabelled before: painted
  });

  it('the panel: a fixed header over collapsible sections (remembered), resizable from its edge; at 1366×768 the import report and the save status are on screen together', async () => {
    const page = await open({ width: 1366, height: 768 });
    const head = page.locator(`${PANEL} [data-testid=panel-head]`);
    const status = page.locator(`${PANEL} [data-testid=sync-status]`);
    await status.waitFor();
    // an import: its report is in the Files section, at the bottom of the scrolling body
    const square = (x: number, cls: string): Record<string, unknown> => ({
      type: 'Feature',
      geometry: { type: 'Polygon', coordinates: [[[x, 100], [x + 50, 100], [x + 50, 150], [x, 150], [x, 100]]] },
      properties: { objectType: 'annotation', classification: { name: cls } },
    });
    await page.locator(`${PANEL} [data-testid="import-file"]`).setInputFiles({ name: 'two.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(JSON.stringify({ type: 'FeatureCollection', features: [square(100, 'Tumour'), square(300, 'Stroma')] })) });
    const report = page.locator(`${PANEL} [data-testid=import-status]`);
    await expect.poll(() => report.textContent(), { timeout: 30_000 }).toMatch(/Imported 2 objects/);
    await report.scrollIntoViewIfNeeded();
    const inView = async (l: typeof report): Promise<boolean> => {
      const b = await l.boundingBox();
      return b !== null && b.y >= 0 && b.y + b.height <= 768 && b.height > 0;
    };
    expect(await inView(report)).toBe(true);
    expect(await inView(status)).toBe(true);
    // the header did not scroll away: it is where it was, at the top of the panel
    expect(Math.abs(((await head.boundingBox())?.y ?? -1) - ((await page.locator(PANEL).boundingBox())?.y ?? 0))).toBeLessThanOrEqual(1);
    await shot(page, 'panel-import-1366x768');

    // a section collapses, and stays collapsed after a reload
    const display = page.locator(`${PANEL} [data-testid=section-display]`);
    await display.scrollIntoViewIfNeeded();
    expect(await display.getAttribute('aria-expanded')).toBe('true');
    await display.click();
    expect(await display.getAttribute('aria-expanded')).toBe('false');
    expect(await page.locator(`${LAYERS}`).count()).toBe(0);
    // the width follows the handle, and is kept too
    const panel = page.locator(PANEL);
    const w0 = (await panel.boundingBox())?.width ?? 0;
    const handle = (await page.locator(`${PANEL} [data-testid=panel-resize]`).boundingBox()) as { x: number; y: number; width: number; height: number };
    await page.mouse.move(handle.x + 2, handle.y + 200);
    await page.mouse.down();
    await page.mouse.move(handle.x - 60, handle.y + 200, { steps: 5 });
    await page.mouse.up();
    await expect.poll(async () => (await panel.boundingBox())?.width ?? 0).toBeGreaterThan(w0 + 50);
    const w1 = (await panel.boundingBox())?.width ?? 0;
    await page.reload();
    await waitAnnotationsLoaded(page);
    await expect.poll(() => page.locator(`${PANEL} [data-testid=section-display]`).getAttribute('aria-expanded')).toBe('false');
    expect(Math.abs(((await panel.boundingBox())?.width ?? 0) - w1)).toBeLessThanOrEqual(1);
    await page.locator(`${PANEL} [data-testid=section-display]`).click();
    await page.locator(LAYERS).waitFor();
    await page.locator(LAYERS).scrollIntoViewIfNeeded();
    await shot(page, 'panel-layers-1366x768');
    await page.setViewportSize({ width: 1920, height: 1080 });
    await page.locator(LAYERS).scrollIntoViewIfNeeded();
    await shot(page, 'panel-layers-1920x1080');
  });

  it('the palette editor merges a class into another and renames one, carrying its objects, after a preview', async () => {
    const page = await open({ width: 1366, height: 768 });
    const id = crypto.randomUUID();
    const made = await fetch(`${srv.url}/api/slides/${slide}/annotations`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'Idempotency-Key': crypto.randomUUID() },
      body: JSON.stringify({ id, kind: 'polygon', geometry: { type: 'Polygon', coordinates: [[[10, 10], [60, 10], [60, 60], [10, 60], [10, 10]]] }, classification: 'Normal', name: null, note: null, locked: false, objectType: 'annotation', properties: {} }),
    });
    expect(made.status).toBe(201);
    await page.locator('[data-testid=edit-classes]').click();
    const editor = page.locator('[data-testid=palette-editor]');
    await editor.waitFor();
    const names = (): Promise<string[]> => editor.locator('[data-testid=palette-name]').evaluateAll((els) => els.map((e) => (e as HTMLInputElement).value));
    expect(await names()).toContain('Normal');
    // merge: the preview names what moves; nothing changes until confirmed
    await editor.locator('[data-testid=palette-merge]').nth((await names()).indexOf('Normal')).selectOption('Other');
    const confirm = editor.locator('[data-testid=relabel-confirm]');
    await expect.poll(() => confirm.locator('[data-testid=relabel-preview]').textContent(), { timeout: 20_000 }).toMatch(/1 object and 0 painted px .* become Other/s);
    expect((await getJson<{ classification: string }>(`${srv.url}/api/slides/${slide}/annotations/${id}`)).body.classification).toBe('Normal');
    await confirm.locator('[data-testid=relabel-go]').click();
    await expect.poll(names).not.toContain('Normal');
    const after = await getJson<{ classification: string; version: number }>(`${srv.url}/api/slides/${slide}/annotations/${id}`);
    expect([after.body.classification, after.body.version]).toEqual(['Other', 2]);
    // rename: the new name takes the class's place, and its objects follow
    const at = (await names()).indexOf('Other');
    page.once('dialog', (d) => void d.accept('Other tissue'));
    await editor.locator('[data-testid=palette-rename]').nth(at).click();
    await expect.poll(() => confirm.locator('[data-testid=relabel-preview]').textContent(), { timeout: 20_000 }).toMatch(/1 object .* become Other tissue/s);
    await confirm.locator('[data-testid=relabel-go]').click();
    await expect.poll(async () => (await names())[at]).toBe('Other tissue');
    expect((await getJson<{ classification: string }>(`${srv.url}/api/slides/${slide}/annotations/${id}`)).body.classification).toBe('Other tissue');
  });
});
