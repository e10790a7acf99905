/**
 * Planning a DICOM WSI series from instance headers alone: levels ordered
 * by size, concatenation parts in frame order, TILED_SPARSE positions, the
 * first optical path and focal plane, associated images, MPP, and the
 * specific codes for headers that cannot make a pyramid (READ-07, READ-08,
 * READ-18).
 */
import { describe, expect, it } from 'vitest';
import type { DicomInstance, FramePositions } from '../../tiles-server/slides/dicom-header.js';
import { planDicomSeries } from '../../tiles-server/slides/dicom-levels.js';

function inst(over: Partial<DicomInstance>): DicomInstance {
  return {
    sopClassUid: '1.2.840.10008.5.1.4.1.1.77.1.6',
    sopInstanceUid: '1',
    seriesUid: '9',
    transferSyntax: '1.2.840.10008.1.2.4.50',
    flavor: 'VOLUME',
    columns: 256,
    rows: 256,
    totalColumns: 1000,
    totalRows: 600,
    frames: 12,
    samplesPerPixel: 3,
    photometric: 'YBR_FULL_422',
    bitsAllocated: 8,
    bitsStored: 8,
    pixelRepresentation: 0,
    planarConfiguration: 0,
    dimensionOrganization: 'TILED_FULL',
    focalPlanes: 1,
    opticalPaths: 1,
    opticalPathId: '1',
    concatenation: null,
    mppX: 0.25,
    mppY: 0.25,
    imagedWidthMm: null,
    imagedHeightMm: null,
    objectivePower: null,
    pixelData: { offset: 1000, length: null },
    extendedOffsets: null,
    positions: null,
    ...over,
  };
}

function positions(cells: Array<[number, number, number?, number?]>): FramePositions {
  return {
    columns: Int32Array.from(cells.map((c) => c[0])),
    rows: Int32Array.from(cells.map((c) => c[1])),
    z: Float64Array.from(cells.map((c) => c[2] ?? 0)),
    path: Int32Array.from(cells.map((c) => c[3] ?? 0)),
    opticalPathIds: ['1', '2'],
  };
}

describe('DICOM series planning', () => {
  it('orders levels by size, joins a concatenation in frame order, and lists associated images', () => {
    const plan = planDicomSeries([
      inst({ totalColumns: 500, totalRows: 300, frames: 4 }),
      inst({ sopInstanceUid: 'b', frames: 6, concatenation: { uid: 'c', frameOffset: 6 } }),
      inst({ sopInstanceUid: 'a', frames: 6, concatenation: { uid: 'c', frameOffset: 0 } }),
      inst({ flavor: 'LABEL', columns: 300, rows: 200, totalColumns: null, totalRows: null, frames: 1 }),
      inst({ flavor: 'OVERVIEW', columns: 640, rows: 200, totalColumns: 640, totalRows: 200, frames: 1 }),
    ]);
    expect(plan.levels.map((l) => [l.width, l.height, l.across, l.down])).toEqual([
      [1000, 600, 4, 3],
      [500, 300, 2, 2],
    ]);
    const l0 = plan.levels[0] as (typeof plan.levels)[number];
    // tile 7 (col 3, row 1) is frame 1 of the part whose frames start at 6 (series index 1)
    expect([l0.instance[7], l0.frame[7]]).toEqual([1, 1]);
    expect([l0.instance[0], l0.frame[0]]).toEqual([2, 0]);
    expect(plan.associated).toEqual([
      { kind: 'label', width: 300, height: 200 },
      { kind: 'macro', width: 640, height: 200 },
    ]);
    expect(plan.mpp).toBe(0.25);
  });

  it('places TILED_SPARSE frames by position, leaves holes as background, and keeps the first plane and optical path', () => {
    const plan = planDicomSeries([
      inst({
        dimensionOrganization: 'TILED_SPARSE',
        frames: 5,
        positions: positions([
          [257, 1],
          [1, 257],
          [1, 1, 0.5],
          [513, 1, 0, 1],
          [257, 1],
        ]),
      }),
    ]);
    const l = plan.levels[0] as (typeof plan.levels)[number];
    expect(Array.from(l.instance)).toEqual([-1, 0, -1, -1, 0, -1, -1, -1, -1, -1, -1, -1]);
    expect(l.frame[1]).toBe(0);
    expect(plan.warnings.join('\n')).toMatch(/focal planes/);
    expect(plan.warnings.join('\n')).toMatch(/2 optical paths/);
    expect(plan.warnings.join('\n')).toMatch(/1 frames repeat a tile/);
  });

  it('uses ImagedVolumeWidth when PixelSpacing is missing, and null when both are', () => {
    expect(planDicomSeries([inst({ mppX: null, imagedWidthMm: 0.5 })]).mpp).toBeCloseTo(0.5, 6);
    expect(planDicomSeries([inst({ mppX: null })]).mpp).toBeNull();
  });

  it('counts focal planes and optical paths into the TILED_FULL frame count', () => {
    const plan = planDicomSeries([inst({ frames: 24, focalPlanes: 2 })]);
    expect(plan.warnings.join('\n')).toMatch(/focal planes; only the first/);
    expect(() => planDicomSeries([inst({ frames: 13 })])).toThrow(expect.objectContaining({ code: 'DICOM_BAD_FRAME_COUNT' }));
    expect(() => planDicomSeries([inst({ frames: 12, focalPlanes: 2 })])).toThrow(expect.objectContaining({ code: 'DICOM_BAD_FRAME_COUNT' }));
  });

  it('refuses headers that cannot make a pyramid, each with its code', () => {
    expect(() => planDicomSeries([inst({ totalRows: null })])).toThrow(expect.objectContaining({ code: 'DICOM_MISSING_ATTRIBUTE' }));
    expect(() => planDicomSeries([inst({ flavor: 'LABEL' })])).toThrow(expect.objectContaining({ code: 'NO_PYRAMID_LEVELS' }));
    expect(() => planDicomSeries([inst({}), inst({ columns: 512, rows: 512, frames: 2 })])).toThrow(expect.objectContaining({ code: 'DICOM_INCONSISTENT_SERIES' }));
    expect(() => planDicomSeries([inst({ dimensionOrganization: 'TILED_SPARSE', frames: 1, positions: positions([[1001, 1]]) })])).toThrow(
      expect.objectContaining({ code: 'DICOM_BAD_FRAME_POSITION' }),
    );
    expect(() => planDicomSeries([inst({ dimensionOrganization: 'TILED_SPARSE', frames: 1 })])).toThrow(expect.objectContaining({ code: 'DICOM_MISSING_ATTRIBUTE' }));
  });
});
