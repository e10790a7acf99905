/** Where level-0 image pixels land on an overlay canvas (device pixels) for OpenSeadragon's current view. */
import type OpenSeadragon from 'openseadragon';
import type { Transform } from './draw-annotations.js';

/** canvas = origin + image × scale, in device pixels; null before the slide is open. */
export function imageTransform(viewer: OpenSeadragon.Viewer): Transform | null {
  const item = viewer.world.getItemAt(0);
  if (!item) return null;
  const dpr = devicePixelRatio;
  const origin = viewer.viewport.viewportToViewerElementCoordinates(item.imageToViewportCoordinates(0, 0, true));
  const zoom = item.viewportToImageZoom(viewer.viewport.getZoom(true));
  return { ox: origin.x * dpr, oy: origin.y * dpr, scale: zoom * dpr };
}
