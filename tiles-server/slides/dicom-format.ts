/**
 * DICOM WSI: a folder of .dcm files is listed as one slide. Reading it is
 * not implemented yet, so opening answers UNSUPPORTED_FORMAT.
 */
import { posix } from 'node:path';
import { WsiError } from '../../src/core/errors.js';
import type { SlideFormat } from './format.js';

export const dicomFormat: SlideFormat = {
  name: 'DICOM WSI',
  supports: (file) => Promise.resolve(file.ext === '.dcm'),
  group(files) {
    const byDir = new Map<string, typeof files>();
    for (const f of files) {
      const dir = posix.dirname(f.rel);
      byDir.set(dir, [...(byDir.get(dir) ?? []), f]);
    }
    return Promise.resolve([...byDir].map(([dir, fs]) => ({ name: `${dir}/`, files: fs })));
  },
  open: () => Promise.reject(new WsiError('UNSUPPORTED_FORMAT', 'DICOM WSI slides are not supported yet; convert to pyramidal TIFF or OME-TIFF')),
};
