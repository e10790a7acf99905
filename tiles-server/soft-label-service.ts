/**
 * Soft labels for ML engineers (issue 14: "models train on the distribution
 * of expert labels"): for an ROI and its readers, per pixel the number of
 * readers who gave each class, as a multi-channel TIFF
 * (agreement/soft-label-tiff.ts). The channels are the classes some reader
 * gave inside the ROI, in id order, class 0 ("unlabelled": a reader left
 * the pixel unpainted) first, so the channels of a pixel inside the ROI sum
 * to the number of readers; a pixel outside the ROI (the image is the mask
 * tiles under it) has 0 in every channel. The class list is the readers'
 * exact joint counts (the agreement workers); the votes are counted tile
 * by tile here. Readers' work is shown only to those with the review
 * action (the route's rule), and every export is audited.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labelsOf } from '../src/core/agreement/tuples.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../src/core/mask/mask-grid.js';
import type { AgreementService } from './agreement-service.js';
import { readerTiles, roiSpans, tilesUnder } from './agreement/roi-tiles.js';
import { writeSoftLabelTiff } from './agreement/soft-label-tiff.js';
import type { AuditEvent } from './audit/audit-log.js';
import type { SlideScope } from './identity/access-service.js';
import type { ExportedFile, MaskService } from './mask-service.js';
import { asciiJson } from './masks/tiff-export.js';

export class SoftLabelService {
  audit: (e: AuditEvent) => void = () => undefined;

  constructor(
    private readonly masks: MaskService,
    private readonly agreement: AgreementService,
  ) {}

  async exportTiff(scope: SlideScope, actor: string, q: { roi: string | null; readers: string | null }, signal?: AbortSignal): Promise<ExportedFile & { channels: number }> {
    const slide = await this.masks.slide(scope);
    const readers = this.agreement.readers(slide.id, q.readers);
    const roi = this.agreement.roi(slide, q.roi);
    const { counts } = await this.agreement.roiCounts(slide, readers, roi, signal);
    const present = new Set<number>([0]);
    for (const key of counts.keys()) for (const l of labelsOf(key, readers.length)) present.add(l);
    const channels = [...present].sort((a, b) => a - b);
    const K = channels.length;
    const channelOf = new Int16Array(256).fill(-1);
    channels.forEach((c, i) => (channelOf[c] = i));
    const T = MASK_TILE;
    const { tx0, ty0, tx1, ty1 } = tilesUnder(roi.box);
    const origin = { x: tx0 * T, y: ty0 * T };
    const width = Math.min(slide.width, (tx1 + 1) * T) - origin.x;
    const height = Math.min(slide.height, (ty1 + 1) * T) - origin.y;
    const names = new Map([{ id: 0, name: 'Unlabelled' }, ...this.masks.classTable(slide.id, channels)].map((c) => [c.id, c.name]));
    const description = asciiJson({
      format: 'wsi-annotate-soft-labels',
      slide: slide.id,
      roi: roi.id,
      readers,
      origin,
      width,
      height,
      mpp: slide.mpp,
      channels: channels.map((id) => ({ id, name: names.get(id) ?? null })),
      rule: 'per pixel, the number of readers who gave each channel\'s class (unpainted = class 0, Unlabelled); pixels outside the ROI (centre rule, even-odd) are 0 in every channel',
      exportedAt: new Date().toISOString(),
    });
    const cell = async (i: number, j: number): Promise<Uint8Array | null> => {
      const tx = tx0 + i;
      const ty = ty0 + j;
      const spans = roiSpans(roi, tx, ty);
      if (spans.length === 0) return null;
      const labels = (await readerTiles(this.masks.store, slide.id, readers, tx, ty)).tiles;
      const votes = new Uint8Array(MASK_TILE_PIXELS * K);
      for (const l of labels) {
        for (let s = 0; s < spans.length; s += 2) {
          const end = (spans[s] as number) + (spans[s + 1] as number);
          for (let p = spans[s] as number; p < end; p++) votes[p * K + (channelOf[l[p] as number] as number)]++;
        }
      }
      return votes;
    };
    const dir = await mkdtemp(join(tmpdir(), 'wsi-soft-labels-'));
    const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
    try {
      const path = join(dir, 'soft-labels.tiff');
      const r = await writeSoftLabelTiff(path, { width, height, channels: K, mpp: slide.mpp, description, cell, ...(signal ? { signal } : {}) });
      this.audit({ actor, action: 'agreement.soft-labels', projectId: scope.project.id, target: slide.id, detail: { roi: roi.id, readers: readers.join(','), channels: K, width, height, bytes: r.bytes } });
      return { path, bytes: r.bytes, cleanup, channels: K };
    } catch (err) {
      await cleanup();
      throw err;
    }
  }
}
