/** Web Worker: fetches annotation pages and packs them (JSON parsing off the main thread). */
import * as Comlink from 'comlink';
import { packPage, type PackedPage } from './annotation-pages.js';

Comlink.expose({
  async load(url: string): Promise<PackedPage> {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`annotations could not be loaded (${res.status})`);
    const p = packPage(await res.json());
    return Comlink.transfer(p, [p.types.buffer, p.coords.buffer, p.coordAt.buffer, p.parts.buffer, p.partAt.buffer]);
  },
});
