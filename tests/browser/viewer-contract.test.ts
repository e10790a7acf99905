/**
 * The live <wsi-viewer> matches its manifest (dist/custom-elements.json):
 * the attributes it observes, the properties and methods it has, the parts
 * its shadow DOM shows, the CSS custom properties that theme it, and the
 * events it fires with the details the manifest's types name.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publicMembers, viewerDoc, type Manifest } from '../../scripts/viewer-api.js';
import { signInBrowser } from '../helpers/accounts.js';
import { CHROMIUM, HAS_CHROMIUM, launchChromium } from '../helpers/browser.js';
import { DIST, VIEWER_SLIDES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { VIEWER, waitAnnotationsLoaded } from '../helpers/viewer-page.js';

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

const doc = (): ReturnType<typeof viewerDoc> => viewerDoc(JSON.parse(readFileSync(join(DIST, 'custom-elements.json'), 'utf8')) as Manifest);

/** Records every viewer event the page sees, with its detail. */
const RECORD = `window.__events = []; for (const n of ${JSON.stringify(['wsi-slide-open', 'wsi-slide-error', 'wsi-view-change', 'wsi-class-change', 'wsi-annotations-imported'])}) document.addEventListener(n, (e) => window.__events.push({ type: e.type, detail: JSON.parse(JSON.stringify(e.detail, (k, v) => (k === 'info' ? { id: v.id, status: v.status } : v))) }));`;

async function events(page: Page): Promise<Array<{ type: string; detail: Record<string, unknown> }>> {
  return page.evaluate('window.__events');
}

describe.skipIf(!HAS_CHROMIUM)('<wsi-viewer> against its manifest', () => {
  it('observes exactly the attributes, and has every property and method, the manifest lists', async () => {
    const page = await browser.newPage();
    await signInBrowser(page, srv);
    await page.addInitScript(RECORD);
    await page.goto(`${srv.url}/?drawer=canvas#slide=${slide}`);
    await waitAnnotationsLoaded(page);
    const d = doc();
    const live = (await page.evaluate(`(() => {
      const C = customElements.get('wsi-viewer');
      const v = ${VIEWER};
      const props = [...C.elementProperties].filter(([, o]) => !o.state).map(([k, o]) => [k, o.attribute === false ? null : typeof o.attribute === 'string' ? o.attribute : k.toLowerCase()]);
      return { observed: C.observedAttributes, props, has: ${JSON.stringify(publicMembers(d).map((m) => m.name))}.filter((n) => !(n in v)) };
    })()`)) as { observed: string[]; props: Array<[string, string | null]>; has: string[] };
    expect([...live.observed].sort()).toEqual((d.attributes ?? []).map((a) => a.name).sort());
    expect(live.props.filter(([, a]) => a !== null).map(([k, a]) => `${k}=${a}`).sort()).toEqual((d.attributes ?? []).map((a) => `${a.fieldName}=${a.name}`).sort());
    // properties without an attribute (the token: never in HTML) are documented as properties
    const propertyOnly = live.props.filter(([, a]) => a === null).map(([k]) => k);
    expect(propertyOnly).toEqual(['token']);
    expect(propertyOnly.filter((k) => !publicMembers(d).some((m) => m.name === k))).toEqual([]);
    expect(live.has).toEqual([]);

    // parts: every part in the shadow DOM is documented, and every documented part is there with annotate on
    const parts = (await page.evaluate(`[...(${VIEWER}).shadowRoot.querySelectorAll('[part]')].map((e) => e.getAttribute('part'))`)) as string[];
    expect([...new Set(parts)].sort()).toEqual((d.cssParts ?? []).map((p) => p.name).sort());

    // css custom properties: setting one on the element changes what is drawn inside
    const bg = await page.evaluate(`(() => { const v = ${VIEWER}; v.style.setProperty('--wsi-viewer-background', 'rgb(1, 2, 3)'); v.style.setProperty('--wsi-panel-background', 'rgb(4, 5, 6)'); return [getComputedStyle(v).backgroundColor, getComputedStyle(v.shadowRoot.querySelector('wsi-annotation-panel')).backgroundColor]; })()`);
    expect(bg).toEqual(['rgb(1, 2, 3)', 'rgb(4, 5, 6)']);

    // events: open and view changes so far, then a class chosen in the panel and a file imported
    await page.locator('wsi-annotation-panel [data-testid="class-Stroma"]').click();
    const geojson = JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', geometry: { type: 'Polygon', coordinates: [[[10, 10], [60, 10], [60, 60], [10, 10]]] }, properties: { objectType: 'annotation', classification: { name: 'Tumour' } } }] });
    await page.locator('wsi-annotation-panel [data-testid="import-file"]').setInputFiles({ name: 'one.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(geojson) });
    await expect.poll(async () => (await events(page)).some((e) => e.type === 'wsi-annotations-imported'), { timeout: 30_000 }).toBe(true);
    const seen = await events(page);
    const first = (type: string): Record<string, unknown> | undefined => seen.find((e) => e.type === type)?.detail;
    expect(first('wsi-slide-open')).toMatchObject({ slide, info: { id: slide, status: 'ok' } });
    expect(first('wsi-view-change')).toMatchObject({ slide, view: { x: expect.any(Number), y: expect.any(Number), zoom: expect.any(Number) } });
    expect(first('wsi-class-change')).toEqual({ name: 'Stroma' });
    expect(first('wsi-annotations-imported')).toEqual({ imported: 1 });
    await page.close();
  });

  it('fires wsi-slide-error with the slide, a code and a message', async () => {
    const page = await browser.newPage();
    await signInBrowser(page, srv);
    await page.addInitScript(RECORD);
    await page.goto(`${srv.url}/?drawer=canvas#slide=nosuchslide0000`);
    await expect.poll(async () => (await events(page)).find((e) => e.type === 'wsi-slide-error')?.detail, { timeout: 20_000 }).toMatchObject({
      slide: 'nosuchslide0000',
      code: 'SLIDE_NOT_FOUND',
      message: expect.any(String),
    });
    const d = doc();
    const names = new Set((await events(page)).map((e) => e.type));
    for (const n of names) expect((d.events ?? []).map((e) => e.name)).toContain(n);
    await page.close();
  });
});
