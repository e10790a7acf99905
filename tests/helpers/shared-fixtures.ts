/**
 * Expectations for the real third-party slides in ../shared/fixtures, read
 * from its SOURCES.md ("Inspected:" column: size and level list of the first
 * series, MPP or resolution), and for its DICOM WSI series, whose truth was
 * read with pydicom 2.3.1 (TotalPixelMatrixColumns/Rows of the VOLUME
 * instances, PixelSpacing of the shared functional groups, ObjectiveLensPower).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SHARED_FIXTURES } from './paths.js';

export interface SharedSlide {
  /** Path relative to the fixtures folder. */
  file: string;
  kind: 'tiff' | 'dicom';
  levels: Array<{ width: number; height: number }>;
  /** Compression of the first series as tifffile names it. */
  compression: string | null;
  mpp: number | null;
}

export function sharedSlides(): SharedSlide[] {
  const text = readFileSync(join(SHARED_FIXTURES, 'SOURCES.md'), 'utf8');
  const out: SharedSlide[] = [];
  for (const line of text.split('\n')) {
    const m = /^\| `(slides\/[^`]+)` \|(.*)$/.exec(line);
    if (!m) continue;
    const file = m[1] as string;
    const rest = m[2] as string;
    if (file.endsWith('.dcm')) {
      out.push({ file, kind: 'dicom', levels: [], compression: null, mpp: null });
      continue;
    }
    const series = /series '[^']*' \S+ axes=\S+ levels=(\d+) \[([^\]]+)\] (\S+)/.exec(rest);
    if (!series) continue;
    const levels = (series[2] as string).split(',').map((s) => {
      const [w, h] = s.trim().split('x').map(Number);
      return { width: w as number, height: h as number };
    });
    const mppM = /MPP=([\d.]+)/.exec(rest);
    const resM = /resolution ([\d.]+) px\/cm/.exec(rest);
    const mpp = mppM ? Number(mppM[1]) : resM ? 10000 / Number(resM[1]) : null;
    out.push({ file, kind: 'tiff', levels, compression: series[3] as string, mpp });
  }
  return out;
}

export interface SharedDicomSeries {
  /** The slide's name as the server lists it. */
  name: string;
  levels: Array<{ width: number; height: number }>;
  mpp: number;
  objectivePower: number | null;
  associated: string[];
}

/** The DICOM WSI series of ../shared/fixtures/slides/dicom, as pydicom reads them. */
export const SHARED_DICOM_SERIES: SharedDicomSeries[] = [
  // 4 files: VOLUME 2220x2967 (130 JPEG frames of 240²), THUMBNAIL, LABEL, OVERVIEW; PixelSpacing 0.000499 mm
  { name: 'slides/dicom/cytomine-cmu-1-small-region/', levels: [{ width: 2220, height: 2967 }], mpp: 0.499, objectivePower: null, associated: ['label', 'macro', 'thumbnail'] },
  // 1 file: VOLUME 50x50, 25 native RGB frames of 10²
  { name: 'slides/dicom/highdicom/sm_image.dcm', levels: [{ width: 50, height: 50 }], mpp: 0.499, objectivePower: null, associated: [] },
  // boxes_0: VOLUME 16x16 in one RGB-coded JPEG frame of 64²; boxes_1: THUMBNAIL 16x16 native; ObjectiveLensPower 20
  { name: 'slides/dicom/openslide/', levels: [{ width: 16, height: 16 }], mpp: 0.499, objectivePower: 20, associated: ['thumbnail'] },
];
