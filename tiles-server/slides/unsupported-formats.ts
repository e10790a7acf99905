/**
 * Formats we recognise by name but cannot read: they are listed, so a user
 * sees the slide and why it does not open, instead of it silently missing.
 */
import { WsiError } from '../../src/core/errors.js';
import type { SlideFormat } from './format.js';

const KNOWN: Record<string, string> = {
  '.ndpi': 'Hamamatsu NDPI',
  '.vms': 'Hamamatsu VMS',
  '.vmu': 'Hamamatsu VMU',
  '.mrxs': '3DHISTECH MIRAX',
  '.scn': 'Leica SCN',
  '.bif': 'Ventana BIF',
  '.czi': 'Zeiss CZI',
  '.isyntax': 'Philips iSyntax',
};

export const unsupportedFormats: SlideFormat[] = Object.entries(KNOWN).map(([ext, name]) => ({
  name,
  supports: (file) => Promise.resolve(file.ext === ext),
  open: () => Promise.reject(new WsiError('UNSUPPORTED_FORMAT', `${name} slides are not supported yet; convert to pyramidal TIFF, OME-TIFF or DICOM WSI`)),
}));
