/**
 * The DICOM version of the tile bench slide: every level of the cached
 * JPEG pyramidal TIFF becomes one VL Whole Slide Microscopy instance of one
 * series (TILED_FULL), each stored tile a JPEG baseline frame (the TIFF's
 * shared tables merged in, so the pixels are the same), written by pydicom
 * through the fixture writer and cached in .bench-cache beside the TIFF.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleJpeg } from '../../tiles-server/decode/jpeg.js';
import type { Plane } from '../../tiles-server/slides/tiff-layout.js';
import { planLayout } from '../../tiles-server/slides/tiff-layouts.js';
import { FileByteSource } from '../../tiles-server/tiff/byte-source.js';
import { Photometric } from '../../tiles-server/tiff/tags.js';
import { TiffFile } from '../../tiles-server/tiff/tiff-file.js';
import { TS, writeDicomInstances, type InstanceSpec } from '../fixtures/dicom.js';
import { uid } from '../fixtures/dicom-valid.js';

type Emit = (record: Record<string, unknown>) => void;

/** Converts `tiffFile` once into a series folder `<root>/.bench-cache/dicom-slides/<name>/`; returns the folder. */
export async function ensureDicomSlide(root: string, tiffFile: string, name: string, emit: Emit): Promise<string> {
  const dir = join(root, '.bench-cache', 'dicom-slides', name);
  const done = join(dir, '.complete');
  if (existsSync(done)) return dir;
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const t0 = performance.now();
  const tmp = await mkdtemp(join(tmpdir(), 'wsi-bench-dicom-'));
  const src = await FileByteSource.open(tiffFile);
  try {
    const file = await TiffFile.open(src);
    const layout = planLayout(file);
    const specs: InstanceSpec[] = [];
    let frames = 0;
    for (const [k, level] of layout.levels.entries()) {
      const img = (level.planes[0] as Plane).image;
      const rgb = img.photometric === Photometric.RGB;
      const table = await file.blockTable(img);
      const count = Math.ceil(level.width / level.tileWidth) * Math.ceil(level.height / level.tileHeight);
      const framesFile = join(tmp, `level-${k}.bin`);
      const out = await open(framesFile, 'w');
      const frameLengths: number[] = [];
      try {
        for (let i = 0; i < count; i++) {
          const jpeg = assembleJpeg(img.jpegTables, await src.read(table.offsets[i] as number, table.counts[i] as number), rgb);
          await out.write(jpeg);
          frameLengths.push(jpeg.length);
        }
      } finally {
        await out.close();
      }
      frames += count;
      const total = frameLengths.reduce((a, b) => a + b + 8 + (b % 2), 0);
      specs.push({
        path: join(dir, `level-${k}.dcm`),
        studyUid: uid(500),
        seriesUid: uid(500, 1),
        sopInstanceUid: uid(500, 1, k + 1),
        imageType: ['DERIVED', 'PRIMARY', 'VOLUME', k === 0 ? 'NONE' : 'RESAMPLED'],
        transferSyntax: TS.jpeg,
        photometric: rgb ? 'RGB' : 'YBR_FULL_422',
        rows: level.tileHeight,
        columns: level.tileWidth,
        totalColumns: level.width,
        totalRows: level.height,
        organization: 'TILED_FULL',
        mppUm: (layout.mpp ?? 0.25) * 2 ** k,
        codec: 'none',
        // a Basic Offset Table holds 32-bit offsets: larger levels need the Extended one
        offsetTable: total < 2 ** 32 - 1 ? 'basic' : 'extended',
        framesFile,
        frameLengths,
      });
    }
    await writeDicomInstances(specs);
    await writeFile(done, '');
    let bytes = 0;
    for (const s of specs) bytes += (await stat(s.path)).size;
    emit({ suite: 'tiles', metric: 'dicom_slide_generated', levels: specs.length, frames, bytes, seconds: +((performance.now() - t0) / 1000).toFixed(1) });
    return dir;
  } finally {
    await src.close();
    await rm(tmp, { recursive: true, force: true });
  }
}
