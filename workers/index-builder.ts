/** Builds a Flatbush index over boxes (pure; the worker only exposes it). */
import { buildIndexBuffer } from '../src/state/spatial-index.js';

export function build(boxes: Float64Array): ArrayBuffer {
  return buildIndexBuffer(boxes);
}
