/**
 * The sample slide written on first start into an empty slide folder: a
 * generated H&E-like pyramidal JPEG TIFF at 0.25 µm/px (40×), with an
 * Aperio-style description so MPP and objective power travel with it.
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { TissueSynth } from './tissue.js';
import { writePyramid } from './pyramid.js';

export interface SampleOptions {
  width: number;
  height: number;
  tileSize?: number;
  mpp?: number;
  quality?: number;
  bigTiff?: boolean;
  onProgress?: (fraction: number) => void;
}

export function aperioStyleDescription(width: number, height: number, tileSize: number, mpp: number, appMag: number, extra = ''): (k: number, w: number, h: number) => string {
  return (k, w, h) =>
    k === 0
      ? `Aperio Image Library v12.0.0 \r\n${width}x${height} [0,0 ${width}x${height}] (${tileSize}x${tileSize}) JPEG/YCC Q=85|AppMag = ${appMag}|MPP = ${mpp}${extra}`
      : `Aperio Image Library v12.0.0 \r\n${width}x${height} [0,0 ${width}x${height}] (${tileSize}x${tileSize}) -> ${w}x${h} JPEG/YCC Q=85`;
}

/** Writes the sample slide atomically (temp file, then rename). */
export async function writeSampleSlide(path: string, opts: SampleOptions): Promise<void> {
  const tileSize = opts.tileSize ?? 256;
  const mpp = opts.mpp ?? 0.25;
  const synth = new TissueSynth(opts.width, opts.height, 7, mpp);
  const storedLevels: number[] = [];
  for (let k = 0; Math.max(opts.width, opts.height) / 2 ** k >= tileSize / 2; k++) storedLevels.push(k);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.partial-${process.pid}`;
  try {
    await writePyramid(
      tmp,
      {
        width: opts.width,
        height: opts.height,
        tileSize,
        storedLevels,
        codec: 'jpeg',
        jpegQuality: opts.quality ?? 85,
        sharedJpegTables: true,
        description: aperioStyleDescription(opts.width, opts.height, tileSize, mpp, Math.round(10 / mpp)),
        resolutionPerCm: 10000 / mpp,
        bigTiff: opts.bigTiff ?? false,
        ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
      },
      (y0, rows) => synth.renderBand(y0, rows),
    );
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
