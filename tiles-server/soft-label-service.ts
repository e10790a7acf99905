/**
 * Soft labels for ML engineers (issue 14: "models train on the distribution
 * of expert labels"): for an ROI and its readers, per pixel the class
 * distribution as a multi-channel pyramidal TIFF
 * (agreement/soft-label-tiff.ts) — `source=votes` (default): the number of
 * readers who gave each class; `source=staple`: STAPLE's posterior of each
 * class (src/core/agreement/consensus.ts, run on the ROI's joint counts)
 * as round(255 · p). The channels are the classes some reader gave inside
 * the ROI, in id order, class 0 ("unlabelled": a reader left the pixel
 * unpainted) first, so a pixel's votes inside the ROI sum to the number of
 * readers; a pixel outside the ROI (the image is the mask tiles under it)
 * has 0 in every channel. The class list is the readers' exact joint
 * counts (the agreement workers); the values are made tile by tile here.
 * Per-object vote counts: the readers' objects inside the ROI grouped by
 * their pairwise one-to-one matches (agreement/object-votes.ts), as
 * GeoJSON. Readers' work is shown only to those with the review action
 * (the routes' rule), and every export is audited.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stapleFromCounts } from '../src/core/agreement/consensus.js';
import { labelsOf } from '../src/core/agreement/tuples.js';
import { WsiError } from '../src/core/errors.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../src/core/mask/mask-grid.js';
import type { AgreementService, ObjectParams } from './agreement-service.js';
import type { ReaderObjects } from './agreement/object-agreement.js';
import { groupObjects, type GroupMember } from './agreement/object-votes.js';
import { readerTiles, roiSpans, tilesUnder } from './agreement/roi-tiles.js';
import { writeSoftLabelTiff } from './agreement/soft-label-tiff.js';
import type { AuditEvent } from './audit/audit-log.js';
import type { SlideScope } from './identity/access-service.js';
import type { ExportedFile, MaskService } from './mask-service.js';
import { asciiJson } from './masks/tiff-export.js';
import type { AnnotationStore } from './store/annotation-store.js';
import { runWorkerJob } from './workers.js';

export class SoftLabelService {
  audit: (e: AuditEvent) => void = () => undefined;

  constructor(
    private readonly masks: MaskService,
    private readonly agreement: AgreementService,
    private readonly annotations: AnnotationStore,
  ) {}

  /**
   * Per-object vote counts as a GeoJSON FeatureCollection: one feature per
   * group of the readers' objects (agreement/object-votes.ts), its geometry
   * the members' outlines (MultiPolygon) or points (MultiPoint), its
   * properties the class votes, the readers who drew it and the members.
   */
  async objectVotes(scope: SlideScope, actor: string, q: ObjectParams): Promise<Record<string, unknown>> {
    const { slide, ids, roiAnnotation, query, sets, iou, distanceUm, t0 } = await this.agreement.readerObjects(scope, { ...q, kind: q.kind ?? 'cells' });
    const size = sets.reduce((n, x) => n + x.cells.length + x.points.length, 0);
    // small sets are grouped here; large ones in a worker thread, so the event loop keeps serving
    const groups = await this.agreement.slot(async () => (size <= 2000 ? groupObjects(sets, query) : runWorkerJob<GroupMember[][]>(new URL('./agreement/vote-worker.js', import.meta.url), { sets, query }, 'object grouping').result));
    const features: unknown[] = [];
    for (const [n, g] of groups.entries()) {
      const votes: Record<string, number> = {};
      const readers: string[] = [];
      const members: Array<{ reader: string; annotation: string; class: string | null }> = [];
      const polygons: unknown[] = [];
      const points: number[][] = [];
      for (const m of g) {
        const set = sets[m.reader] as ReaderObjects;
        const reader = ids[m.reader] as string;
        const annotation = set.ids[m.object] as string;
        const cls = query.kind === 'cells' ? (set.cells[m.object] as { cls: number }).cls : (set.points[m.object] as { cls: number }).cls;
        const name = set.classes[cls] ?? null;
        const key = name ?? NO_CLASS;
        votes[key] = (votes[key] ?? 0) + 1;
        if (!readers.includes(reader)) readers.push(reader);
        members.push({ reader, annotation, class: name });
        if (query.kind === 'points') {
          const p = set.points[m.object] as { x: number; y: number };
          points.push([p.x, p.y]);
        } else {
          const geom = this.annotations.get(annotation)?.geometry;
          if (geom?.type === 'Polygon') polygons.push(geom.coordinates);
          else if (geom?.type === 'MultiPolygon') polygons.push(...geom.coordinates);
        }
      }
      features.push({
        type: 'Feature',
        id: n + 1,
        geometry: query.kind === 'points' ? { type: 'MultiPoint', coordinates: points } : { type: 'MultiPolygon', coordinates: polygons },
        properties: { votes, readers, n_readers: readers.length, n_objects: g.length, members },
      });
    }
    const ms = Math.round(performance.now() - t0);
    this.audit({ actor, action: 'agreement.object-votes', projectId: scope.project.id, target: slide.id, detail: { roi: roiAnnotation.id, readers: ids.join(','), kind: query.kind, groups: groups.length, ms } });
    return {
      type: 'FeatureCollection',
      slide: slide.id,
      roi: roiAnnotation.id,
      kind: query.kind,
      ...(query.kind === 'cells' ? { iou } : { distanceUm }),
      readers: ids,
      rules: {
        grouping: 'every pair of readers matched one to one (cells at IoU >= iou, points within distanceUm); a feature is a connected component of those matches, an unmatched object a group of one; each object is one vote (a component can hold two objects of one reader), n_readers counts distinct readers',
        votes: `class name -> objects of the group given it; an object without a class counts under "${NO_CLASS}"`,
        inside: 'an object belongs to the ROI when its reference point (a cell: the mean of its outer ring\'s vertices; a point: itself) is inside the ROI polygon',
        coordinates: 'level-0 pixels of the slide',
      },
      features,
    };
  }

  async exportTiff(scope: SlideScope, actor: string, q: { roi: string | null; readers: string | null; source?: string | null }, signal?: AbortSignal): Promise<ExportedFile & { channels: number }> {
    const source = q.source === null || q.source === undefined || q.source === '' ? 'votes' : q.source;
    if (!SOURCES.includes(source as SoftLabelSource)) throw new WsiError('BAD_REQUEST', `source is one of ${SOURCES.join(', ')}`);
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
    // staple: per pixel, the channel values of the readers' labels there (one lookup per combination of labels)
    const valuesOf = source === 'staple' ? stapleValues(counts, readers.length, channelOf, K) : null;
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
      source,
      rule: RULES[source as SoftLabelSource],
      levels: 'level 0 then each level halved (rounding up) until it fits one 512-px tile; a reduced pixel is, per channel, the mean of the 2x2 block under it inside the level above, rounded half to even',
      exportedAt: new Date().toISOString(),
    });
    const cell = async (i: number, j: number): Promise<Uint8Array | null> => {
      const tx = tx0 + i;
      const ty = ty0 + j;
      const spans = roiSpans(roi, tx, ty);
      if (spans.length === 0) return null;
      const labels = (await readerTiles(this.masks.store, slide.id, readers, tx, ty)).tiles;
      const out = new Uint8Array(MASK_TILE_PIXELS * K);
      const R = labels.length;
      for (let s = 0; s < spans.length; s += 2) {
        const end = (spans[s] as number) + (spans[s + 1] as number);
        if (!valuesOf) {
          // votes: one count per reader
          for (const l of labels) for (let p = spans[s] as number; p < end; p++) out[p * K + (channelOf[l[p] as number] as number)]++;
          continue;
        }
        for (let p = spans[s] as number; p < end; p++) {
          let key = 0;
          for (let r = R - 1; r >= 0; r--) key = key * 256 + ((labels[r] as Uint8Array)[p] as number);
          out.set(valuesOf(key), p * K);
        }
      }
      return out;
    };
    const dir = await mkdtemp(join(tmpdir(), 'wsi-soft-labels-'));
    const cleanup = (): Promise<void> => rm(dir, { recursive: true, force: true });
    try {
      const path = join(dir, 'soft-labels.tiff');
      const r = await writeSoftLabelTiff(path, { width, height, channels: K, mpp: slide.mpp, description, cell, ...(signal ? { signal } : {}) });
      this.audit({ actor, action: 'agreement.soft-labels', projectId: scope.project.id, target: slide.id, detail: { roi: roi.id, readers: readers.join(','), source, channels: K, width, height, levels: r.levels.length, bytes: r.bytes } });
      return { path, bytes: r.bytes, cleanup, channels: K };
    } catch (err) {
      await cleanup();
      throw err;
    }
  }
}

/** The votes key of objects without a class. */
export const NO_CLASS = '(no class)';

export type SoftLabelSource = 'votes' | 'staple';
export const SOURCES: readonly SoftLabelSource[] = ['votes', 'staple'];

const RULES: Record<SoftLabelSource, string> = {
  votes: 'per pixel, the number of readers who gave each channel\'s class (unpainted = class 0, Unlabelled); pixels outside the ROI (centre rule, even-odd) are 0 in every channel',
  staple: 'per pixel, the STAPLE posterior p of each channel\'s class (multi-class EM on the ROI\'s joint counts, unpainted = class 0) as round(255 * p), halves rounded up, so a pixel\'s channels sum to 255 give or take the rounding; pixels outside the ROI (centre rule, even-odd) are 0 in every channel',
};

/** A memo of channel values per combination of the readers' labels (the tuple key of tuples.ts). */
function memoByKey(make: (key: number) => Uint8Array): (key: number) => Uint8Array {
  const memo = new Map<number, Uint8Array>();
  return (key) => {
    let v = memo.get(key);
    if (!v) memo.set(key, (v = make(key)));
    return v;
  };
}

/** round(255 · posterior) per channel (classes STAPLE never saw get 0). */
function stapleValues(counts: Map<number, number>, readers: number, channelOf: Int16Array, K: number): (key: number) => Uint8Array {
  const st = stapleFromCounts(counts, readers);
  return memoByKey((key) => {
    const p = st.posterior(labelsOf(key, readers));
    const v = new Uint8Array(K);
    st.classes.forEach((c, t) => (v[channelOf[c] as number] = Math.round(255 * (p[t] as number))));
    return v;
  });
}
