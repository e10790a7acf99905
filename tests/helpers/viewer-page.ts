/** Driving the annotation viewer in Chromium from tests and benchmarks. */
import type { Page } from 'playwright-core';

export interface PageRecord {
  id: string;
  kind: string;
  classification: string | null;
  name: string | null;
  note: string | null;
  locked: boolean;
  geometry: { type: string; coordinates: unknown };
}

export const VIEWER = `document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer')`;

export async function waitAnnotationsLoaded(page: Page, timeout = 60_000): Promise<void> {
  await page.waitForFunction(`(${VIEWER})?.annotationSession?.progress?.done === true && (${VIEWER})?.isFullyLoaded?.() === true`, undefined, { timeout });
}

export async function syncState(page: Page): Promise<{ status: string; queued: number }> {
  return page.evaluate(`(() => { const s = (${VIEWER}).annotationSession.sync.snapshot; return { status: s.status, queued: s.queued }; })()`);
}

export async function waitSaved(page: Page, timeout = 30_000): Promise<void> {
  await page.waitForFunction(`(${VIEWER})?.annotationSession?.sync.snapshot.status === 'saved' && (${VIEWER})?.annotationSession?.sync.snapshot.queued === 0`, undefined, { timeout });
}

/** The client store's objects, sorted by id. */
export async function storeRecords(page: Page): Promise<PageRecord[]> {
  return page.evaluate(`(() => {
    const s = (${VIEWER}).annotationSession.store;
    const out = [];
    for (const h of s.handles()) {
      const r = s.record(h);
      out.push({ id: r.id, kind: r.kind, classification: r.classification, name: r.name, note: r.note, locked: r.locked, geometry: r.geometry });
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  })()`);
}

/** Converts an image position to page coordinates. */
export async function imageToPage(page: Page, x: number, y: number): Promise<{ x: number; y: number }> {
  return page.evaluate(
    ([ix, iy]) => {
      const v = document.querySelector('wsi-app')?.shadowRoot?.querySelector('wsi-viewer') as unknown as {
        openSeadragon: {
          world: { getItemAt(i: number): { imageToViewportCoordinates(x: number, y: number, c: boolean): unknown } };
          viewport: { viewportToViewerElementCoordinates(p: unknown): { x: number; y: number } };
        };
        shadowRoot: ShadowRoot;
      };
      const osd = v.openSeadragon;
      const p = osd.viewport.viewportToViewerElementCoordinates(osd.world.getItemAt(0).imageToViewportCoordinates(ix as number, iy as number, true));
      const r = (v.shadowRoot.querySelector('.osd') as HTMLElement).getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    },
    [x, y],
  );
}
