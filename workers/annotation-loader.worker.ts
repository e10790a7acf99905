/** Web Worker: fetches annotation pages (JSON or columnar frames) and packs them, off the main thread. */
import * as Comlink from 'comlink';
import { packPage } from '../src/core/annotation-pages.js';
import { fetchColumnarColumns } from '../src/core/columnar-fetch.js';
import type { AnnotationLoaderApi } from './protocol.js';

const api: AnnotationLoaderApi = {
  async load(url, headers) {
    const res = await fetch(url, { headers });
    if (!res.ok) throw new Error(`annotations could not be loaded (${res.status})`);
    const p = packPage(await res.json());
    return Comlink.transfer(p, [p.types.buffer, p.coords.buffer, p.coordAt.buffer, p.parts.buffer, p.partAt.buffer]);
  },
  async loadColumnar(url, headers) {
    const p = await fetchColumnarColumns(url, headers);
    // every column is a view on the frame's one buffer (only the string table is copied across)
    return Comlink.transfer(p, [p.coords.buffer]);
  },
};

Comlink.expose(api);
