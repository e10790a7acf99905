/**
 * Every slide format the server knows, in the order they are asked whether
 * they take a file. Adding a format is one line here and its own module.
 */
import { dicomFormat } from './dicom-format.js';
import type { SlideFormat } from './format.js';
import { tiffFormat } from './tiff-format.js';
import { unsupportedFormats } from './unsupported-formats.js';

export const SLIDE_FORMATS: readonly SlideFormat[] = [tiffFormat, dicomFormat, ...unsupportedFormats];

export function formatNamed(name: string): SlideFormat | undefined {
  return SLIDE_FORMATS.find((f) => f.name === name);
}
