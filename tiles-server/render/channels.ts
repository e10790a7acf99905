/**
 * The `channels` query parameter of tile, IIIF and thumbnail requests: which
 * channels of a multi-channel slide (fluorescence QPTIFF, OME-TIFF) to show,
 * as a comma-separated list of indexes into GET /api/slides/{id}'s
 * `channels`, composited in their colours. Parsed strictly; the answer is
 * canonical (sorted, no repeats, absent when it names every channel) so one
 * selection has one cache entry and one ETag.
 */
import { WsiError } from '../../src/core/errors.js';
import type { SlideMeta } from '../slides/types.js';

export const MAX_CHANNELS = 256;

const bad = (msg: string): never => {
  throw new WsiError('BAD_REQUEST', msg);
};

/** The selected channels, or undefined for all of them (also when the parameter is absent). */
export function parseChannels(param: string | null | undefined, meta: Pick<SlideMeta, 'channels'>): number[] | undefined {
  if (param === null || param === undefined) return undefined;
  const count = meta.channels?.length ?? 0;
  if (count === 0) bad('this slide has no separate channels; leave out the channels parameter');
  if (param === '') bad('channels must list at least one channel index');
  const parts = param.split(',');
  if (parts.length > MAX_CHANNELS) bad(`channels lists more than ${MAX_CHANNELS} indexes`);
  const picked = new Set<number>();
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) bad(`channels must be comma-separated channel indexes, got "${p.slice(0, 16)}"`);
    const c = Number(p);
    if (c >= count) bad(`channel ${c} does not exist; this slide has channels 0..${count - 1}`);
    picked.add(c);
  }
  if (picked.size === count) return undefined;
  return [...picked].sort((a, b) => a - b);
}

/** The cache-key and ETag suffix of a selection ('' for all channels). */
export function channelsKey(channels: readonly number[] | undefined): string {
  return channels ? `/ch${channels.join('.')}` : '';
}
