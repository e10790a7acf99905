/** Web Worker: Flatbush builds off the main thread (comlink, buffers transferred). */
import * as Comlink from 'comlink';
import { build } from './index-builder.js';

Comlink.expose({
  build(boxes: Float64Array): ArrayBuffer {
    const buf = build(boxes);
    return Comlink.transfer(buf, [buf]);
  },
});
