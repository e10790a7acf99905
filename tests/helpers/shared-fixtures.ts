/**
 * Expectations for the real third-party slides in ../shared/fixtures, read
 * from its SOURCES.md ("Inspected:" column: size and level list of the first
 * series, MPP or resolution).
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
