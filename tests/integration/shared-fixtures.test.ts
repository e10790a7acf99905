/**
 * Every real slide in ../shared/fixtures opens with the size, level count and
 * MPP its SOURCES.md gives, or is listed with a specific error code; every
 * broken file gives a specific code. Skipped, visibly, when ../shared is absent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HAS_SHARED, SHARED_FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, type TestServer } from '../helpers/server.js';
import { SHARED_DICOM_SERIES, sharedSlides } from '../helpers/shared-fixtures.js';

interface Listed {
  id: string;
  name: string;
  status: string;
  width: number | null;
  height: number | null;
  levels: number;
  mpp: number | null;
  objectivePower: number | null;
  vendor: string | null;
  error?: { code: string; message: string };
}

describe.skipIf(!HAS_SHARED)(`real slides in ${SHARED_FIXTURES}`, () => {
  let server: TestServer;
  let listed: Map<string, Listed>;

  beforeAll(async () => {
    server = await startTestServer(SHARED_FIXTURES);
    const { body } = await getJson<{ slides: Listed[] }>(`${server.url}/api/slides`);
    listed = new Map(body.slides.map((s) => [s.name, s]));
  });

  afterAll(async () => {
    await server?.stop();
  });

  it('opens each TIFF-based slide (JPEG 2000 Aperio too) with the right size, levels and MPP', () => {
    const expected = sharedSlides().filter((s) => s.kind === 'tiff');
    expect(expected.length).toBeGreaterThanOrEqual(8);
    for (const e of expected) {
      const s = listed.get(e.file);
      expect(s, e.file).toBeDefined();
      expect(s?.status, `${e.file}: ${JSON.stringify(s?.error)}`).toBe('ok');
      expect([s?.width, s?.height, s?.levels], e.file).toEqual([e.levels[0]?.width, e.levels[0]?.height, e.levels.length]);
      if (e.mpp === null) expect(s?.mpp, e.file).toBeNull();
      else expect(s?.mpp, e.file).toBeCloseTo(e.mpp, 3);
    }
  });

  it('opens each DICOM WSI series (a folder or one file) with the right size, levels, MPP and associated images', async () => {
    const dirs = new Set(sharedSlides().filter((s) => s.kind === 'dicom').map((s) => `${s.file.slice(0, s.file.lastIndexOf('/'))}/`));
    // every DICOM folder SOURCES.md lists has its truth here
    for (const d of dirs) expect(SHARED_DICOM_SERIES.some((e) => e.name.startsWith(d)), d).toBe(true);
    for (const e of SHARED_DICOM_SERIES) {
      const s = listed.get(e.name);
      expect(s, e.name).toBeDefined();
      expect(s?.status, `${e.name}: ${JSON.stringify(s?.error)}`).toBe('ok');
      expect([s?.width, s?.height, s?.levels, s?.vendor, s?.objectivePower], e.name).toEqual([e.levels[0]?.width, e.levels[0]?.height, e.levels.length, 'dicom', e.objectivePower]);
      expect(s?.mpp, e.name).toBeCloseTo(e.mpp, 4);
      const { body } = await getJson<{ associatedImages: Array<{ kind: string }>; levelDimensions: Array<{ width: number; height: number }> }>(`${server.url}/api/slides/${s?.id}`);
      expect(body.levelDimensions.map((l) => ({ width: l.width, height: l.height })), e.name).toEqual(e.levels);
      expect(body.associatedImages.map((a) => a.kind).sort(), e.name).toEqual(e.associated);
      const tile = await fetch(`${server.url}/dzi/${s?.id}_files/0/0_0.jpeg`);
      expect(tile.status, e.name).toBe(200);
    }
    // the 16x16 level stored as one 64x64 RGB-coded JPEG frame is cropped, not passed through
    const boxes = listed.get('slides/dicom/openslide/');
    const full = await fetch(`${server.url}/dzi/${boxes?.id}_files/4/0_0.jpeg`);
    expect(full.status).toBe(200);
    expect(full.headers.get('x-tile-source')).toBe('rendered');
  });

  it('lists the DICOM segmentation and annotation objects with DICOM_NOT_WSI', () => {
    for (const name of ['annotations/dicom/seg_image_sm_control.dcm', 'annotations/dicom/sm_annotations.dcm']) {
      expect(listed.get(name)?.status, name).toBe('error');
      expect(listed.get(name)?.error?.code, name).toBe('DICOM_NOT_WSI');
    }
  });

  it('gives every broken slide a specific code and keeps serving', async () => {
    const unopenable = listed.get('broken/openslide/unopenable.tiff');
    expect(unopenable?.error?.code).toBe('UNSUPPORTED_COMPRESSION');
    expect(unopenable?.error?.message).toMatch(/52479/);
    const unreadable = listed.get('broken/openslide/unreadable.svs');
    expect(unreadable?.status).toBe('error');
    expect(unreadable?.error?.code).toBe('TILE_DECODE_ERROR');
    const tile = await getJson<{ code: string }>(`${server.url}/dzi/${unreadable?.id}_files/4/0_0.jpeg`);
    expect(tile.status).toBe(422);
    expect(tile.body.code).toBe('TILE_DECODE_ERROR');
    const cmu = listed.get('slides/aperio/cmu-1-small-region.svs');
    const ok = await fetch(`${server.url}/dzi/${cmu?.id}_files/12/1_1.jpeg`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-tile-source')).toBe('passthrough');
  });

  it('reads Aperio label/macro/thumbnail as associated images, never as levels', async () => {
    const cmu = listed.get('slides/aperio/cmu-1-small-region.svs');
    const { body } = await getJson<{ associatedImages: Array<{ kind: string }>; levelDimensions: unknown[] }>(`${server.url}/api/slides/${cmu?.id}`);
    expect(body.associatedImages.map((a) => a.kind).sort()).toEqual(['label', 'macro', 'thumbnail']);
    expect(body.levelDimensions).toHaveLength(1);
  });
});
