/**
 * A DICOM WSI slide full of PHI for the DICOM de-identification tests
 * (DEID-09): a multi-file series (two levels, a thumbnail, LABEL and
 * OVERVIEW instances) written by pydicom (scripts/fixtures/dicom.ts), then
 * filled with sentinels PHI-SENTINEL-101… by dicom_phi.py. Made by the
 * tests themselves; needs Debian's python3-pydicom.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PYTHON, tilesOf, TS, writeDicomInstances, type InstanceSpec } from '../../scripts/fixtures/dicom.js';
import { labelRaster, macroRaster, pyramidOf, tissueRaster } from '../../scripts/fixtures/encode.js';
import type { RasterRgb } from '../../tiles-server/sample/pyramid.js';
import { ROOT } from './paths.js';

const run = promisify(execFile);
export const DICOM_PHI_HELPER = join(ROOT, 'tests', 'helpers', 'dicom_phi.py');

export const spec = (path: string, sop: string, flavor: string, r: RasterRgb, tile: number): InstanceSpec => ({
  path,
  studyUid: '1.2.826.0.1.3680043.10.543.77',
  seriesUid: '1.2.826.0.1.3680043.10.543.77.9',
  sopInstanceUid: sop,
  imageType: ['ORIGINAL', 'PRIMARY', flavor, 'NONE'],
  transferSyntax: TS.jpeg,
  photometric: 'YBR_FULL_422',
  codec: 'jpeg-ybr',
  rows: tile === 0 ? r.height : tile,
  columns: tile === 0 ? r.width : tile,
  totalColumns: r.width,
  totalRows: r.height,
  organization: 'TILED_FULL',
  mppUm: 0.5,
  objectivePower: 20,
  raw: tile === 0 ? [r.data] : tilesOf(r, tile),
});

/** Writes the PHI slide: two levels, a thumbnail, a LABEL and an OVERVIEW instance, full of sentinels. */
export async function writePhiSlide(folder: string): Promise<void> {
  const levels = pyramidOf(tissueRaster(512, 384, 7, 0.5), [0, 1]);
  const base = '1.2.826.0.1.3680043.10.543.77.9';
  const files = {
    level0: join(folder, 'Doe_Jane-level0.dcm'),
    level1: join(folder, 'Doe_Jane-level1.dcm'),
    thumb: join(folder, 'Doe_Jane-thumbnail.dcm'),
    label: join(folder, 'Doe_Jane-label.dcm'),
    overview: join(folder, 'Doe_Jane-overview.dcm'),
  };
  await writeDicomInstances([
    spec(files.level0, `${base}.1`, 'VOLUME', levels[0] as RasterRgb, 256),
    spec(files.level1, `${base}.2`, 'VOLUME', levels[1] as RasterRgb, 256),
    spec(files.thumb, `${base}.3`, 'THUMBNAIL', levels[1] as RasterRgb, 0),
    spec(files.label, `${base}.4`, 'LABEL', labelRaster(120, 80), 0),
    spec(files.overview, `${base}.5`, 'OVERVIEW', macroRaster(200, 80), 0),
  ]);
  await run(PYTHON, [DICOM_PHI_HELPER, 'add', files.level0, files.level1, files.thumb, files.label, files.overview]);
}

