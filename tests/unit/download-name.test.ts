/**
 * Export file names (tiles-server/http/download-name.ts): the slide's
 * display name where the caller sees file names, the study code in blind
 * projects (a file name can carry PHI and unblinds), what the file holds,
 * the day; plain ASCII whatever the input (issue 11).
 */
import { describe, expect, it } from 'vitest';
import { attachment, downloadName, safeFilePart } from '../../tiles-server/http/download-name.js';

const DAY = new Date('2026-12-07T23:59:00Z');

describe('export file names', () => {
  it('use the display name where file names are seen, with what and the day', () => {
    expect(downloadName({ seesFileNames: true, studyCode: 'S-1A2B3C4D' }, 'slides/CMU-1.svs', 'annotations', 'geojson', DAY)).toBe('CMU-1_annotations_2026-12-07.geojson');
    // a DICOM folder: its own name, never the folders above it
    expect(downloadName({ seesFileNames: true, studyCode: 'S-1' }, 'cases/2024/dicom-j2k-sparse/', 'mask', 'tiff', DAY)).toBe('dicom-j2k-sparse_mask_2026-12-07.tiff');
  });

  it('never use the file name in a blind project: the study code instead', () => {
    const name = downloadName({ seesFileNames: false, studyCode: 'BL-001' }, 'slides/SENTINEL-DOE-JANE-19700101.svs', 'annotations', 'xml', DAY);
    expect(name).toBe('BL-001_annotations_2026-12-07.xml');
    expect(name).not.toMatch(/DOE|JANE|1970/);
    // without a file name (the slide gone from the folder), the study code too
    expect(downloadName({ seesFileNames: true, studyCode: 'S-9' }, undefined, 'mask', 'tiff', DAY)).toBe('S-9_mask_2026-12-07.tiff');
  });

  it('are plain ASCII: no quotes, slashes, control characters or header injection', () => {
    expect(safeFilePart('Bióp"sia\r\nX-Evil: 1/../a b')).toBe('Biop_sia_X-Evil_1_.._a_b');
    const name = downloadName({ seesFileNames: true, studyCode: 'S' }, '"; filename=evil.exe;.svs', 'annotations', 'geojson', DAY);
    expect(name).toMatch(/^[A-Za-z0-9._-]+$/);
    expect(attachment(name)).toBe(`attachment; filename="${name}"`);
    expect(downloadName({ seesFileNames: true, studyCode: 'S' }, '….svs', 'annotations', 'geojson', DAY)).toBe('slide_annotations_2026-12-07.geojson');
    expect(downloadName({ seesFileNames: true, studyCode: 'S' }, `${'x'.repeat(300)}.svs`, 'mask', 'tiff', DAY).length).toBeLessThan(110);
  });
});
