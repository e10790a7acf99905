/**
 * The annotator's workbench without surprises (issue 11), in Chromium:
 * choosing a class never relabels the selection (relabelling is "Set
 * class", undoable); "All ROIs → mask" previews what it would overwrite,
 * leaves painted pixels alone by default, and its undo gives the mask back
 * byte for byte (DATA-type loss by surprise); an import can be undone; keys
 * work right after a reload; the help matches the key map and closes with Esc.
 */
import { randomUUID } from 'node:crypto';
import { inflateSync } from 'node:zlib';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { CHROMIUM, HAS_CHROMIUM } from '../helpers/browser.js';
import { b64, parsePack, postTiles, zlib } from '../helpers/masks.js';
import { getJson, type TestServer } from '../helpers/server.js';
import { VIEWER, clientMaskTiles as clientTiles, closeContexts, dragPath as drag, imageToPage, openViewer, startViewerRig, stopViewerRig, storeRecords, viewAt as view, waitAnnotationsLoaded, waitMaskSaved as maskSaved, waitSaved, type ViewerRig } from '../helpers/viewer-page.js';

let rig: ViewerRig;
let srv: TestServer;
let slide = '';
const T = 512;
const PANEL = 'wsi-annotation-panel';
const MASK_PANEL = 'wsi-mask-panel';

if (!HAS_CHROMIUM) process.stdout.write(`[browser] SKIP: no Chromium at ${CHROMIUM}\n`);

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  rig = await startViewerRig();
  srv = rig.srv;
  slide = rig.slides.get('aperio-jpeg-256-x2.svs')?.id ?? '';
});

afterEach(() => closeContexts(rig));
afterAll(() => stopViewerRig(rig));

const open = (opts: { focus?: boolean; width?: number; height?: number } = {}): Promise<Page> =>
  openViewer(rig, slide, { viewport: { width: opts.width ?? 1400, height: opts.height ?? 900 }, ...(opts.focus === false ? { focus: false } : {}) });

async function key(page: Page, k: string): Promise<void> {
  await page.locator('wsi-viewer').press(k);
}

async function clickAt(page: Page, x: number, y: number): Promise<void> {
  const p = await imageToPage(page, x, y);
  await page.mouse.click(p.x, p.y);
  await page.waitForTimeout(350); // beyond the double-click window
}

/** The server's mask tiles of the signed-in admin, decoded (by "tx,ty"). */
async function serverTiles(): Promise<Map<string, Buffer>> {
  const res = await fetch(`${srv.url}/api/slides/${slide}/masks/${srv.admin?.id ?? ''}/tiles`);
  return new Map(parsePack(Buffer.from(await res.arrayBuffer())).map((t) => [`${t.tx},${t.ty}`, inflateSync(t.data)]));
}

function valueAt(tiles: Map<string, Buffer>, x: number, y: number): number {
  const t = tiles.get(`${Math.floor(x / T)},${Math.floor(y / T)}`);
  return t ? (t[(y % T) * T + (x % T)] as number) : 0;
}

/** Tiles compared by content: an absent tile equals an all-zero one. */
function sameMask(a: Map<string, Buffer>, b: Map<string, Buffer>): boolean {
  const zero = Buffer.alloc(T * T);
  for (const k of new Set([...a.keys(), ...b.keys()])) if (Buffer.compare(a.get(k) ?? zero, b.get(k) ?? zero) !== 0) return false;
  return true;
}

async function classOf(page: Page, kind: string): Promise<string | null | undefined> {
  return (await storeRecords(page)).find((r) => r.kind === kind)?.classification;
}

/** Deletes every annotation of the slide and clears the mask, so each test starts from nothing. */
async function clearSlide(): Promise<void> {
  const { body } = await getJson<{ annotations: Array<{ id: string; version: number }> }>(`${srv.url}/api/slides/${slide}/annotations?limit=5000`);
  const ops = (body.annotations ?? []).map((a) => ({ op: 'delete', id: a.id, ifMatch: a.version }));
  if (ops.length) {
    const res = await fetch(`${srv.url}/api/slides/${slide}/annotations/batch`, { method: 'POST', headers: { 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() }, body: JSON.stringify({ ops }) });
    if (!res.ok) throw new Error(`clearing the slide: ${res.status} ${await res.text()}`);
  }
  const pack = await fetch(`${srv.url}/api/slides/${slide}/masks/${srv.admin?.id ?? ''}/tiles`);
  const tiles = parsePack(Buffer.from(await pack.arrayBuffer()));
  if (tiles.length) {
    const empty = b64(zlib(new Uint8Array(T * T)));
    const r = await postTiles(srv.url, slide, srv.admin?.id ?? '', { ops: tiles.map((t) => ({ tx: t.tx, ty: t.ty, ifMatch: t.version, data: empty })) });
    if (r.status !== 200 && r.status !== 201) throw new Error(`clearing the mask: ${r.status} ${JSON.stringify(r.body)}`);
  }
}

describe.skipIf(!HAS_CHROMIUM)("the annotator's workbench (issue 11)", () => {
  afterEach(async () => {
    if (srv) await clearSlide();
  });

  it('choosing a class while an ROI is selected picks the paint class only; "Set class" relabels, says so, and undoes', async () => {
    const page = await open();
    await view(page, 1250, 500, 1);
    // a Tumour rectangle (the starting class), selected
    await key(page, 'r');
    await drag(page, [[1150, 420], [1350, 570]]);
    await waitSaved(page);
    await key(page, 'v');
    await clickAt(page, 1250, 495);
    expect(await page.evaluate(`(${VIEWER}).annotationSession.selection.size`)).toBe(1);
    expect(await classOf(page, 'rectangle')).toBe('Tumour');

    // with the brush, `l` picks the paint colour: the rectangle stays Tumour
    await key(page, 'b');
    await key(page, 'l');
    await expect.poll(() => page.locator(`${PANEL} [data-testid=class-Lymphocytes]`).getAttribute('aria-pressed')).toBe('true');
    expect(await classOf(page, 'rectangle')).toBe('Tumour');
    // a click in the palette too
    await page.locator(`${PANEL} [data-testid=class-Necrosis]`).click();
    expect(await classOf(page, 'rectangle')).toBe('Tumour');
    // the palette marks the selection's class apart from the current class
    await expect.poll(() => page.locator(`${PANEL} [data-testid=class-Tumour] .sel-mark`).count()).toBe(1);
    expect(await page.locator(`${PANEL} [data-testid=class-Tumour]`).getAttribute('aria-pressed')).toBe('false');
    expect(await page.locator(`${PANEL} [data-testid=class-Necrosis]`).getAttribute('aria-pressed')).toBe('true');
    await waitSaved(page);
    const onServer = (): Promise<string | null> =>
      getJson<{ annotations: Array<{ kind: string; classification: string | null }> }>(`${srv.url}/api/slides/${slide}/annotations`).then(
        (r) => r.body.annotations.find((a) => a.kind === 'rectangle')?.classification ?? null,
      );
    expect(await onServer()).toBe('Tumour');

    // relabelling is explicit: the "Set class" button (or C) gives the selection the current class, and says so
    await page.locator(`${PANEL} [data-testid=set-class]`).click();
    expect(await classOf(page, 'rectangle')).toBe('Necrosis');
    await expect.poll(() => page.locator(`${PANEL} [data-testid=annotate-message]`).textContent()).toMatch(/Set 1 object to Necrosis.*Ctrl\+Z undoes/);
    // one undo step
    expect(await page.locator(`${PANEL} [data-testid=undo]`).isDisabled()).toBe(false);
    await page.locator(`${PANEL} [data-testid=undo]`).click();
    expect(await classOf(page, 'rectangle')).toBe('Tumour');
    // and the key
    await key(page, 'C');
    expect(await classOf(page, 'rectangle')).toBe('Necrosis');
    await waitSaved(page);
    expect(await onServer()).toBe('Necrosis');
  });

  it('"All ROIs → mask" says what painted pixels it would overwrite, leaves them alone by default, and undo gives the mask back byte for byte', async () => {
    const page = await open({ width: 1366, height: 768 });
    await view(page, 1250, 500, 1);
    const classes = (await getJson<{ classes: Array<{ name: string; id: number }> }>(`${srv.url}/api/classes`)).body.classes;
    const id = (n: string): number => classes.find((c) => c.name === n)?.id as number;
    // a Tumour ROI, with Lymphocytes and Necrosis painted by hand inside it
    await key(page, 'r');
    await drag(page, [[1150, 420], [1350, 570]]);
    await waitSaved(page);
    await key(page, 'b');
    await key(page, 'l');
    await drag(page, [[1180, 495], [1320, 495]]);
    await key(page, 'n');
    await drag(page, [[1250, 440], [1250, 550]]);
    await maskSaved(page);
    const before = await serverTiles();
    expect(valueAt(before, 1190, 495)).toBe(id('Lymphocytes'));
    expect(valueAt(before, 1250, 450)).toBe(id('Necrosis'));

    // the preview names what would be overwritten; nothing is painted until confirmed
    await page.locator(`${MASK_PANEL} [data-testid=paint-all-rois]`).click();
    const confirm = page.locator(`${MASK_PANEL} [data-testid=roi-confirm]`);
    await confirm.waitFor();
    await expect.poll(() => confirm.locator('[data-testid=roi-overwrite]').textContent()).toMatch(/already painted inside the regions.*Lymphocytes.*Necrosis|already painted inside the regions.*Necrosis.*Lymphocytes/s);
    expect(await confirm.locator('[data-testid=roi-keep-painted]').isChecked()).toBe(true);
    await page.screenshot({ path: '/tmp/i11-roi-confirm.png' });
    expect(sameMask(await serverTiles(), before)).toBe(true);
    await confirm.locator('[data-testid=roi-cancel]').click();
    await expect.poll(() => confirm.count()).toBe(0);

    // confirmed with the default: painted pixels keep their class, the rest of the ROI becomes Tumour
    await page.locator(`${MASK_PANEL} [data-testid=paint-all-rois]`).click();
    await confirm.locator('[data-testid=roi-go]').click();
    await expect.poll(() => page.locator(`${MASK_PANEL} [data-testid=paint-message]`).textContent()).toMatch(/Painted 1 region.*painted pixels left as they were.*Ctrl\+Z undoes/);
    await maskSaved(page);
    const kept = await serverTiles();
    expect(valueAt(kept, 1190, 495)).toBe(id('Lymphocytes'));
    expect(valueAt(kept, 1250, 450)).toBe(id('Necrosis'));
    expect(valueAt(kept, 1170, 560)).toBe(id('Tumour'));
    expect(valueAt(kept, 1140, 495)).toBe(0);
    await page.screenshot({ path: '/tmp/i11-roi-done.png' });

    // one undo step, in the UI: the mask is as it was, byte for byte, on the client and the server
    const undo = page.locator(`${PANEL} [data-testid=undo]`);
    expect(await undo.isDisabled()).toBe(false);
    expect(await undo.getAttribute('title')).toMatch(/All ROIs → mask/);
    await undo.click();
    await maskSaved(page);
    expect(sameMask(await serverTiles(), before)).toBe(true);
    expect(sameMask(await clientTiles(page), before)).toBe(true);

    // painting over, when asked for, overwrites the strokes; and undoes the same way
    await page.locator(`${MASK_PANEL} [data-testid=paint-all-rois]`).click();
    await confirm.locator('[data-testid=roi-keep-painted]').uncheck();
    await confirm.locator('[data-testid=roi-go]').click();
    await expect.poll(() => page.locator(`${MASK_PANEL} [data-testid=paint-message]`).textContent()).toMatch(/painted pixels overwritten/);
    await maskSaved(page);
    const over = await serverTiles();
    expect(valueAt(over, 1190, 495)).toBe(id('Tumour'));
    expect(valueAt(over, 1250, 450)).toBe(id('Tumour'));
    // (the confirmation took the focus with it when it closed: the keys still reach the viewer)
    await page.keyboard.press('Control+z');
    await maskSaved(page);
    expect(sameMask(await serverTiles(), before)).toBe(true);
    // and redo paints it again
    await page.keyboard.press('Control+Shift+z');
    await maskSaved(page);
    expect(sameMask(await serverTiles(), over)).toBe(true);
  });

  it('keys work right after a reload, without a click; the help matches the key map and closes with Esc or a click outside', async () => {
    const page = await open({ focus: false, width: 1366, height: 768 });
    const tool = (): Promise<string> => page.evaluate(`(${VIEWER}).tools.active.spec.id`);
    await page.keyboard.press('r');
    expect(await tool()).toBe('rectangle');
    await page.reload();
    await waitAnnotationsLoaded(page);
    await page.keyboard.press('e');
    expect(await tool()).toBe('ellipse');

    // the help: generated from the key registry, s is Stroma (not pan), Esc closes it
    await page.keyboard.press('?');
    const help = page.locator('wsi-viewer [data-testid=help]');
    await help.waitFor();
    const text = (await help.textContent()) ?? '';
    expect(text).not.toMatch(/w a s d/);
    expect(text).toMatch(/w a dpan \(s is Stroma\)/);
    expect(text).toMatch(/sStroma/);
    await page.screenshot({ path: '/tmp/i11-help.png' });
    await page.keyboard.press('Escape');
    await expect.poll(() => help.count()).toBe(0);
    // a click outside closes it too
    await page.keyboard.press('?');
    await help.waitFor();
    const stage = await page.locator('wsi-viewer .osd').boundingBox();
    const helpBox = await help.boundingBox();
    const p = { x: (stage?.x ?? 0) + 30, y: (stage?.y ?? 0) + (stage?.height ?? 0) / 2 };
    expect(p.x < (helpBox?.x ?? 0)).toBe(true); // outside the help
    await page.mouse.click(p.x, p.y);
    await expect.poll(() => help.count()).toBe(0);
  });

  it('an import is one undo step: undo deletes what it made (on the server too), redo brings it back, and the history before it stays', async () => {
    const page = await open();
    await view(page, 1250, 500, 1);
    // something drawn before the import, still undoable after it
    await key(page, 'r');
    await drag(page, [[1150, 420], [1350, 570]]);
    await waitSaved(page);
    const square = (x: number, cls: string, note: string): unknown => ({
      type: 'Feature',
      geometry: { type: 'Polygon', coordinates: [[[x, 100], [x + 50, 100], [x + 50, 150], [x, 150], [x, 100]]] },
      properties: { objectType: 'annotation', classification: { name: cls }, name: `r${x}`, metadata: { ANNOTATION_DESCRIPTION: note } },
    });
    // three squares and a point past the slide's right edge (3,000 px wide), which the report warns about
    const outside = { type: 'Feature', geometry: { type: 'Point', coordinates: [4418, 1000] }, properties: { objectType: 'annotation', classification: { name: 'Other' } } };
    const geojson = JSON.stringify({ type: 'FeatureCollection', features: [square(100, 'Tumour', 'a'), square(300, 'Stroma', 'b'), square(500, 'Necrosis', 'c'), outside] });
    await page.locator(`${PANEL} [data-testid="import-file"]`).setInputFiles({ name: 'three.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(geojson) });
    await expect.poll(() => page.locator(`${PANEL} [data-testid=import-status]`).textContent(), { timeout: 30_000 }).toMatch(/Imported 4 objects.*1 wholly outside the slide \(3,000 × 2,000 px.*Ctrl\+Z undoes the import/);
    await page.screenshot({ path: '/tmp/i11-import.png' });
    const live = async (): Promise<number> => (await getJson<{ annotations: unknown[] }>(`${srv.url}/api/slides/${slide}/annotations`)).body.annotations.length;
    expect((await storeRecords(page)).length).toBe(5);
    expect(await live()).toBe(5);
    const undo = page.locator(`${PANEL} [data-testid=undo]`);
    expect(await undo.getAttribute('title')).toMatch(/Undo Import three\.geojson/);
    await undo.click();
    await waitSaved(page);
    expect((await storeRecords(page)).map((r) => r.kind)).toEqual(['rectangle']);
    expect(await live()).toBe(1);
    // redo brings the three back, notes and all
    await page.locator(`${PANEL} [data-testid=redo]`).click();
    await waitSaved(page);
    expect((await storeRecords(page)).map((r) => r.note).sort()).toEqual(['a', 'b', 'c', null, null]);
    expect(await live()).toBe(5);
    // and the history from before the import is still there: two undos remove the import, then the rectangle
    await undo.click();
    await undo.click();
    await waitSaved(page);
    expect(await live()).toBe(0);
  });

  it('one Display section: a row per layer (annotations, mask, and for reviewers and managers the disagreement map), each with its own opacity, no label twice', async () => {
    const page = await open({ width: 1366, height: 768 });
    const controls = (await page.evaluate(`(() => {
      const panel = (${VIEWER}).shadowRoot.querySelector('wsi-annotation-panel');
      const mask = panel.querySelector('wsi-mask-panel');
      const all = [...panel.shadowRoot.querySelectorAll('input[type=range], input[type=checkbox]'), ...mask.shadowRoot.querySelectorAll('input[type=range], input[type=checkbox]')];
      return all.map((e) => [e.type, e.getAttribute('aria-label') || e.closest('label')?.textContent.trim() || '']);
    })()`)) as Array<[string, string]>;
    const ranges = controls.filter(([t]) => t === 'range').map(([, l]) => l);
    // the test's account manages the slide's project, so the disagreement map's row is there too (issue 14)
    expect(ranges.sort()).toEqual(['Annotation fill opacity', 'Disagreement map opacity', 'Mask opacity']);
    const labels = controls.map(([, l]) => l);
    expect(labels.filter((l, i) => labels.indexOf(l) !== i)).toEqual([]);
    expect(labels.filter((l) => /outline/i.test(l)).sort()).toEqual(['Annotations as outlines only', 'Mask as outlines only']);
    // the mask row drives the mask layer
    await page.locator(`${PANEL} [data-testid=mask-outline]`).check();
    expect(await page.evaluate(`(${VIEWER}).maskLayer.outline`)).toBe(true);
    await page.locator(`${PANEL} h3:has-text("Display")`).scrollIntoViewIfNeeded();
    await page.screenshot({ path: '/tmp/i11-display.png' });
  });
});
