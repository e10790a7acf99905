/**
 * Decoded-tile access for one slide with a shared byte-bounded cache and
 * in-flight de-duplication: concurrent requests that need the same stored
 * tile wait for one decode. The decode is aborted when every request
 * waiting for it has gone away.
 */
import { LRUCache } from 'lru-cache';
import type { RgbImage, SlideSource } from '../slides/types.js';

export type DecodedCache = LRUCache<string, RgbImage>;

export function makeDecodedCache(maxBytes: number): DecodedCache {
  return new LRUCache<string, RgbImage>({
    maxSize: Math.max(1, maxBytes),
    sizeCalculation: (img) => Math.max(1, img.data.byteLength),
  });
}

interface Flight {
  promise: Promise<RgbImage>;
  controller: AbortController;
  waiters: number;
}

export class TileReader {
  private readonly inflight = new Map<string, Flight>();

  constructor(
    readonly slide: SlideSource,
    private readonly key: string,
    private readonly cache: DecodedCache,
  ) {}

  /** A decoded tile; `channels` as in SlideSource.readTile (each selection is cached on its own). */
  read(level: number, col: number, row: number, signal?: AbortSignal, channels?: readonly number[]): Promise<RgbImage> {
    const k = `${this.key}/${level}/${col}/${row}${channels ? `/c${channels.join('.')}` : ''}`;
    const hit = this.cache.get(k);
    if (hit) return Promise.resolve(hit);
    if (signal?.aborted) return Promise.reject(signal.reason);
    let flight = this.inflight.get(k);
    if (!flight) {
      const controller = new AbortController();
      const promise = this.slide.readTile(level, col, row, controller.signal, channels);
      const f: Flight = { promise, controller, waiters: 0 };
      promise.then(
        (img) => {
          if (this.inflight.get(k) === f) this.inflight.delete(k);
          this.cache.set(k, img);
        },
        () => {
          if (this.inflight.get(k) === f) this.inflight.delete(k);
        },
      );
      this.inflight.set(k, f);
      flight = f;
    }
    const f = flight;
    f.waiters++;
    return new Promise<RgbImage>((resolve, reject) => {
      let settled = false;
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        f.waiters--;
        if (f.waiters === 0) {
          f.controller.abort(signal?.reason);
          if (this.inflight.get(k) === f) this.inflight.delete(k);
        }
        reject(signal?.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      f.promise.then(
        (v) => {
          if (settled) return;
          settled = true;
          f.waiters--;
          signal?.removeEventListener('abort', onAbort);
          resolve(v);
        },
        (e: unknown) => {
          if (settled) return;
          settled = true;
          f.waiters--;
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }
}
