/**
 * The first start on an empty slide folder writes the sample slide (a real
 * pyramidal JPEG TIFF, Aperio-style description) and serves it; the second
 * start leaves the folder alone.
 */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { getJson, startTestServer } from '../helpers/server.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('first start', () => {
  it('writes a sample slide into an empty slide folder and serves it', async () => {
    const slides = await mkdtemp(join(tmpdir(), 'wsi-first-'));
    dirs.push(slides);
    const server = await startTestServer(slides, { SAMPLE_SLIDE: '1', SAMPLE_SIZE: '4096' });
    try {
      expect(server.output()).toMatch(/writing a 4096x4096 sample slide/);
      const { body } = await getJson<{ slides: Array<Record<string, unknown>> }>(`${server.url}/api/slides`);
      expect(body.slides).toHaveLength(1);
      expect(body.slides[0]).toMatchObject({ name: 'sample/sample-he.tiff', width: 4096, height: 4096, levels: 6, mpp: 0.25, objectivePower: 40, vendor: 'aperio', status: 'ok' });
      const tile = await fetch(`${server.url}/dzi/${body.slides[0]?.['id'] as string}_files/12/7_7.jpeg`);
      expect(tile.headers.get('x-tile-source')).toBe('passthrough');
      const { data } = await sharp(Buffer.from(await tile.arrayBuffer())).raw().toBuffer({ resolveWithObject: true });
      expect(data.length).toBe(256 * 256 * 3);
    } finally {
      await server.stop();
    }
    // a second start finds the slide and writes nothing
    const again = await startTestServer(slides, { SAMPLE_SLIDE: '1', SAMPLE_SIZE: '4096' });
    try {
      expect(again.output()).not.toMatch(/writing/);
      expect(await readdir(join(slides, 'sample'))).toEqual(['sample-he.tiff']);
    } finally {
      await again.stop();
    }
  });
});
