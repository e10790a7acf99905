/** Web Worker: fetches annotation pages and packs them (JSON parsing off the main thread). */
import * as Comlink from 'comlink';
import { packPage } from '../src/core/annotation-pages.js';
import type { AnnotationLoaderApi } from './protocol.js';

const api: AnnotationLoaderApi = {
  async load(url, headers) {
    const res = await fetch(url, { headers });
    if (!res.ok) throw new Error(`annotations could not be loaded (${res.status})`);
    const p = packPage(await res.json());
    return Comlink.transfer(p, [p.types.buffer, p.coords.buffer, p.coordAt.buffer, p.parts.buffer, p.partAt.buffer]);
  },
};

Comlink.expose(api);
