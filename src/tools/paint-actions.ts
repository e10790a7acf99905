/**
 * Painting shortcuts that are not tools: `i` toggles "paint inside ROIs
 * only", `G` fills the selected regions with the current class (one undo
 * step). The mask panel's buttons call the same functions.
 */
import { maskClassId } from '../core/annotation.js';
import { polygonRings } from '../state/rois.js';
import { registerKey } from './registry.js';
import { selectedHandles } from './selection-edits.js';
import type { ToolContext } from './tool.js';

/** Fills the selected regions of interest with the current class; resolves with why not, or null. */
export async function fillSelectedRois(ctx: ToolContext): Promise<string | null> {
  const value = maskClassId(ctx.currentPaletteClass());
  if (value === null) return 'Choose a class to paint.';
  const mask = ctx.mask;
  if (!mask?.loaded) return mask?.loadError ? `The mask could not be loaded: ${mask.loadError}` : 'The mask is still loading.';
  const polys = polygonRings(ctx.store, selectedHandles(ctx));
  if (polys.length === 0) return 'Select one or more regions (polygons) to fill.';
  const out = await mask.fillPolygons(polys, value, `Fill ${polys.length} region${polys.length === 1 ? '' : 's'}`);
  if (out.refused) return out.refused;
  await ctx.maskShown(out.keys);
  return null;
}

registerKey({
  keys: 'i',
  label: 'paint inside ROIs only (on/off)',
  group: 'paint',
  needsMask: true,
  match: (e) => e.key === 'i',
  run: ({ tools }) => {
    if (!tools) return false;
    tools.paint.setInsideRoisOnly(!tools.paint.insideRoisOnly);
    return true;
  },
});

registerKey({
  keys: 'G',
  label: 'fill the selected ROIs with the current class',
  group: 'paint',
  needsMask: true,
  match: (e) => e.key === 'G',
  run: ({ tools }) => {
    if (!tools) return false;
    void fillSelectedRois(tools).then((m) => tools.notify(m, 'paint'));
    return true;
  },
});
