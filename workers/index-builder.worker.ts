/** Web Worker: Flatbush builds off the main thread (comlink, buffers transferred). */
import * as Comlink from 'comlink';
import { buildIndexBuffer } from '../src/core/index-buffer.js';
import type { IndexBuilderApi } from './protocol.js';

const api: IndexBuilderApi = {
  async build(boxes) {
    const buf = buildIndexBuffer(boxes);
    return Comlink.transfer(buf, [buf]);
  },
};

Comlink.expose(api);
