/**
 * The TIFF vendor layouts, in the order they are asked whether they take a
 * file (the generic layout, last, takes any). Adding a TIFF-based format is
 * one line here and its own module in layouts/.
 */
import { WsiError } from '../../src/core/errors.js';
import type { TiffFile } from '../tiff/tiff-file.js';
import { aperioLayout } from './layouts/aperio.js';
import { genericLayout } from './layouts/generic.js';
import { omeLayout } from './layouts/ome.js';
import { qptiffLayout } from './layouts/qptiff.js';
import type { Layout, TiffLayoutRule } from './tiff-layout.js';

export const TIFF_LAYOUTS: readonly TiffLayoutRule[] = [aperioLayout, omeLayout, qptiffLayout, genericLayout];

export function planLayout(file: TiffFile): Layout {
  if (!file.images.some((i) => i.ifd.chainIndex === 0)) throw new WsiError('NO_PYRAMID_LEVELS', 'the file has no images');
  const rule = TIFF_LAYOUTS.find((r) => r.supports(file)) as TiffLayoutRule;
  const layout = rule.plan(file);
  if (layout.levels.length === 0) throw new WsiError('NO_PYRAMID_LEVELS', 'the file has no image that can be a pyramid level');
  layout.warnings.unshift(...file.structure.warnings);
  if (layout.orientation < 1 || layout.orientation > 8) {
    layout.warnings.push(`Orientation ${layout.orientation} is invalid and was ignored`);
    layout.orientation = 1;
  }
  return layout;
}
