/**
 * History in the UI (issue 11, "a version can be restored from the history
 * UI"), in Chromium: the selected object's versions with the account that
 * made each, a preview on the slide, and "Restore" writing the old state as
 * a new version through the normal save path — undoable with Ctrl+Z; and a
 * mask region's changes, restored as one undo step, byte for byte
 * (TEST-CATALOGUE DATA-08/DATA-16: an old version comes back from history).
 * Also the per-region measurement table: counts per class follow the
 * hierarchy and an edit. Screenshots of both views at 1366×768 are written
 * to docs/ when SCREENSHOTS=1.
 */
import { randomUUID } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { call } from '../helpers/annotations.js';
import { CHROMIUM, HAS_CHROMIUM } from '../helpers/browser.js';
import { b64, parsePack, postTiles, tile, zlib } from '../helpers/masks.js';
import type { TestServer } from '../helpers/server.js';
import { VIEWER, closeContexts, openViewer, startViewerRig, stopViewerRig, viewAt, waitMaskSaved, waitSaved, type ViewerRig } from '../helpers/viewer-page.js';

let rig: ViewerRig;
let srv: TestServer;
let slide = '';
const SHOTS = process.env['SCREENSHOTS'] === '1';

/** With SCREENSHOTS=1: the page at a laptop's 1366×768 and at 1920×1080, into docs/. */
async function shoot(page: Page, name: string): Promise<void> {
  if (!SHOTS) return;
  await page.screenshot({ path: `docs/${name}-1366x768.png` });
  await page.setViewportSize({ width: 1920, height: 1080 });
  await page.waitForTimeout(400);
  await page.screenshot({ path: `docs/${name}-1920x1080.png` });
  await page.setViewportSize({ width: 1366, height: 768 });
  await page.waitForTimeout(400);
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

const open = (): Promise<Page> => openViewer(rig, slide, { viewport: { width: 1366, height: 768 } });

const rect = (x: number, y: number, w: number, h: number): { type: 'Polygon'; coordinates: number[][][] } => ({ type: 'Polygon', coordinates: [[[x, y], [x + w, y], [x + w, y + h], [x, y + h], [x, y]]] });

async function serverObject(id: string): Promise<{ version: number; geometry: unknown; name: string | null }> {
  return (await call<{ version: number; geometry: unknown; name: string | null }>(srv.url, 'GET', `/api/slides/${slide}/annotations/${id}`)).body;
}

async function serverTile(tx: number, ty: number): Promise<Buffer | null> {
  const res = await fetch(`${srv.url}/api/slides/${slide}/masks/${srv.admin?.id ?? ''}/tiles`);
  const t = parsePack(Buffer.from(await res.arrayBuffer())).find((p) => p.tx === tx && p.ty === ty);
  return t ? inflateSync(t.data) : null;
}

describe.skipIf(!HAS_CHROMIUM)('history in the UI', () => {
  it('restores an object\'s earlier version from the history view, as a new version that Ctrl+Z undoes', async () => {
    const id = randomUUID();
    const v1 = rect(100, 100, 200, 150);
    const v2 = rect(400, 300, 120, 120);
    expect((await call(srv.url, 'POST', `/api/slides/${slide}/annotations`, { body: { id, kind: 'polygon', geometry: v1, classification: 'Tumour', name: 'first shape' } })).status).toBe(201);
    expect((await call(srv.url, 'PATCH', `/api/slides/${slide}/annotations/${id}`, { body: { geometry: v2, name: 'moved' }, ifMatch: 1 })).status).toBe(200);

    const page = await open();
    await viewAt(page, 300, 250, 1);
    await page.evaluate(`(${VIEWER}).annotationSession.selection.set(['${id}'])`);
    await page.locator('wsi-annotation-panel [data-testid=open-history]').click();
    const view = page.locator('wsi-history-view');
    await view.locator('[data-testid=object-history]').waitFor();
    // newest first, each with the account that made it
    await expect.poll(() => view.locator('tbody tr').count()).toBe(2);
    const who = await view.locator('[data-testid=who]').allTextContents();
    expect(who).toEqual([srv.admin?.username, srv.admin?.username]);
    // the current version cannot be "restored"; the first can, and can be previewed
    expect(await view.locator('[data-testid=restore-v2]').count()).toBe(0);
    await view.locator('[data-testid=preview-v1]').click();
    expect(await page.evaluate(`(${VIEWER}).annotationLayer?.preview !== null`)).toBe(true);
    await shoot(page, 'history');

    await view.locator('[data-testid=restore-v1]').click();
    await expect.poll(() => view.locator('[data-testid=history-status]').textContent()).toContain('Version 1 restored');
    await waitSaved(page);
    // on the server: version 3, with version 1's shape and name
    const now = await serverObject(id);
    expect(now.version).toBe(3);
    expect(now.geometry).toEqual(v1);
    expect(now.name).toBe('first shape');
    // the list shows the new version (by the same account)
    await expect.poll(() => view.locator('tbody tr').count(), { timeout: 10_000 }).toBe(3);
    // the preview went with the restore
    expect(await page.evaluate(`(${VIEWER}).annotationLayer?.preview === null`)).toBe(true);

    // one Ctrl+Z takes it back, saved as version 4
    await page.locator('wsi-viewer').press('Control+z');
    await waitSaved(page);
    await expect.poll(async () => (await serverObject(id)).version).toBe(4);
    expect((await serverObject(id)).geometry).toEqual(v2);
    // the open list follows (the undo is version 4), and a locked object offers no restore
    await expect.poll(() => view.locator('tbody tr').count(), { timeout: 10_000 }).toBe(4);
    await page.evaluate(`(${VIEWER}).annotationSession.store.apply({ update: [{ id: '${id}', changes: { locked: true } }] }, 'local', 'Lock')`);
    await expect.poll(() => view.locator('[data-testid=restore-v1]').isDisabled()).toBe(true);
  });

  it('brings a deleted object back from the history view’s Deleted list, and Ctrl+Z deletes it again (issue 11)', async () => {
    const id = crypto.randomUUID();
    const shape = rect(700, 300, 120, 80);
    expect((await call(srv.url, 'POST', `/api/slides/${slide}/annotations`, { body: { id, kind: 'polygon', geometry: shape, classification: 'Stroma', name: 'gone by mistake' } })).status).toBe(201);
    expect((await call(srv.url, 'DELETE', `/api/slides/${slide}/annotations/${id}`, { ifMatch: 1 })).status).toBe(200);
    const page = await open();
    expect(await page.evaluate(`(${VIEWER}).annotationSession.store.handleOf('${id}') === undefined`)).toBe(true);
    await page.locator('wsi-annotation-panel [data-testid=open-history]').click();
    const view = page.locator('wsi-history-view');
    await view.locator('[data-testid=history-deleted]').click();
    const row = view.locator(`[data-testid=deleted-objects] tr[data-id="${id}"]`);
    await row.waitFor();
    expect(await row.locator('[data-testid=who]').textContent()).toBe(srv.admin?.username);
    await row.locator('button', { hasText: 'Preview' }).click();
    expect(await page.evaluate(`(${VIEWER}).annotationLayer?.preview !== null`)).toBe(true);
    await row.locator('button', { hasText: 'Restore' }).click();
    await expect.poll(() => view.locator('[data-testid=history-status]').textContent()).toContain('gone by mistake is back on the slide');
    expect(await row.count()).toBe(0);
    await waitSaved(page);
    const back = await serverObject(id);
    expect([back.version, back.geometry, back.name]).toEqual([back.version, shape, 'gone by mistake']);
    expect(back.version).toBeGreaterThanOrEqual(3);
    // one undo step: it is deleted again, on the server too
    await page.locator('wsi-viewer').focus();
    await page.keyboard.press('Control+z');
    await waitSaved(page);
    await expect.poll(async () => (await call<{ deleted?: boolean }>(srv.url, 'GET', `/api/slides/${slide}/annotations/${id}`)).body.deleted).toBe(true);
  });

  it('restores the mask tiles under the view to an earlier change, as one undo step', async () => {
    const user = srv.admin?.id ?? '';
    const first = tile((x, y) => (x < 256 && y < 256 ? 1 : 0));
    const second = tile(() => 2);
    expect((await postTiles(srv.url, slide, user, { ops: [{ tx: 0, ty: 0, ifMatch: 0, data: b64(zlib(first)) }] })).status).toBe(200);
    expect((await postTiles(srv.url, slide, user, { ops: [{ tx: 0, ty: 0, ifMatch: 1, data: b64(zlib(second)) }] })).status).toBe(200);

    const page = await open();
    await page.evaluate(`(${VIEWER}).annotationSession.selection.set([])`);
    await page.locator('wsi-annotation-panel [data-testid=open-history]').click();
    const view = page.locator('wsi-history-view');
    await view.locator('[data-testid=mask-history]').waitFor();
    await expect.poll(() => view.locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
    expect((await view.locator('[data-testid=who]').allTextContents())[0]).toBe(srv.admin?.username);
    await view.locator('[data-testid=preview-op1]').click();
    await shoot(page, 'mask-history');
    await view.locator('[data-testid=restore-op1]').click();
    await expect.poll(() => view.locator('[data-testid=history-status]').textContent()).toContain('put back');
    await waitMaskSaved(page);
    expect(Buffer.compare((await serverTile(0, 0)) as Buffer, Buffer.from(first))).toBe(0);
    // undo: the second change is back, byte for byte
    await page.locator('wsi-viewer').press('Control+z');
    await waitMaskSaved(page);
    await expect.poll(async () => Buffer.compare((await serverTile(0, 0)) as Buffer, Buffer.from(second))).toBe(0);
  });

  it('shows the measurements per region: nested counts per class that follow an edit', async () => {
    const outer = randomUUID();
    const inner = randomUUID();
    const ops = [
      { op: 'create', annotation: { id: outer, kind: 'polygon', geometry: rect(1000, 1000, 2000, 2000), classification: 'Stroma', name: 'outer region' } },
      { op: 'create', annotation: { id: inner, kind: 'polygon', geometry: rect(1200, 1200, 500, 500), classification: 'Tumour', name: 'inner region' } },
      ...[1300, 1400, 1500].map((x) => ({ op: 'create', annotation: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [x, 1300] }, classification: 'Lymphocytes' } })),
      { op: 'create', annotation: { id: randomUUID(), kind: 'point', geometry: { type: 'Point', coordinates: [2500, 2500] }, classification: 'Tumour' } },
    ];
    expect((await call(srv.url, 'POST', `/api/slides/${slide}/annotations/batch`, { body: { ops } })).status).toBe(200);
    const page = await open();
    await page.locator('wsi-annotation-panel [data-testid=open-measurements]').click();
    const table = page.locator('wsi-measurements-view [data-testid=measurements]');
    await table.waitFor();
    const cell = (id: string, cls: string) => table.locator(`tr[data-id="${id}"] td[data-class="${cls}"]`).textContent();
    await expect.poll(() => cell(outer, 'Lymphocytes')).toBe('3');
    expect(await cell(outer, 'Tumour')).toBe('1');
    expect(await cell(inner, 'Lymphocytes')).toBe('3');
    await shoot(page, 'measurements');
    // move the inner region away from the points: they now count only for the outer one
    await page.evaluate(`(${VIEWER}).annotationSession.store.apply({ update: [{ id: '${inner}', changes: { geometry: ${JSON.stringify(rect(2200, 2200, 100, 100))} } }] }, 'local', 'Move')`);
    await expect.poll(() => cell(inner, 'Lymphocytes')).toBe('0');
    expect(await cell(outer, 'Lymphocytes')).toBe('3');
    // the CSV says the same
    const [download] = await Promise.all([page.waitForEvent('download'), page.locator('wsi-measurements-view [data-testid=measurements-csv]').click()]);
    const csv = await new Promise<string>((resolve, reject) => {
      void download.createReadStream().then((stream) => {
        let text = '';
        stream.on('data', (d: Buffer) => (text += d.toString()));
        stream.on('end', () => resolve(text));
        stream.on('error', reject);
      });
    });
    const lines = csv.trimEnd().split('\r\n');
    const header = (lines[0] as string).split(',');
    const outerLine = (lines.find((l) => l.startsWith(outer)) as string).split(',');
    expect(outerLine[header.indexOf('objects: Lymphocytes')]).toBe('3');
    // Esc closes the view
    await page.keyboard.press('Escape');
    await expect.poll(() => page.locator('wsi-measurements-view').count()).toBe(0);
  });
});
