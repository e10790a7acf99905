/**
 * The Flatbush index over annotation boxes as a transferable buffer. Pure and
 * DOM-free, so the index-builder worker and the main thread (when workers are
 * unavailable) build it with the same code.
 */
import Flatbush from 'flatbush';

/** Builds a Flatbush over boxes (4 numbers each: x0, y0, x1, y1) and returns its buffer. */
export function buildIndexBuffer(boxes: Float64Array): ArrayBuffer {
  const n = boxes.length / 4;
  const index = new Flatbush(Math.max(1, n));
  for (let i = 0; i < n; i++) index.add(boxes[i * 4] as number, boxes[i * 4 + 1] as number, boxes[i * 4 + 2] as number, boxes[i * 4 + 3] as number);
  if (n === 0) index.add(0, 0, 0, 0);
  index.finish();
  return index.data as ArrayBuffer;
}
