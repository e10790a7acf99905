/**
 * Accepting a consensus into the slide's reference mask (issue 14: "a
 * consensus is a proposal; a reviewer accepts it into the reference mask").
 * A reviewer or manager names an ROI, the readers and a method (rules:
 * src/core/agreement/reference.ts); the server counts the readers' joint
 * labels inside the ROI exactly (the agreement workers), decides each
 * tuple's class, and writes the ROI's pixels of the reference mask — the
 * mask layer of the reserved annotator REFERENCE_ANNOTATOR — as one mask
 * operation: the mask history keeps every version (a restore goes back to
 * any of them), the provenance (method, readers, parameters, who, when) is
 * a reference_events row written in the same transaction, and the audit log
 * gets a record. The readers' own masks are only read: their disagreement
 * stays. Pixels of the reference outside the ROI keep their class.
 *
 * Refusals: fewer than two readers, the reference named as a reader, an
 * unknown method or tie rule, an ROI that is not a polygon of this slide
 * or lies outside it, in a blind project a reader who has not submitted
 * (their region inside the ROI under review or accepted, or a reading of
 * the slide submitted), another accept or restore of this slide's
 * reference still running (409; the same Idempotency-Key replays the
 * first answer), a tile of the reference changed meanwhile (412).
 */
import { randomUUID } from 'node:crypto';
import { WsiError } from '../src/core/errors.js';
import { MASK_TILE, MASK_TILE_PIXELS } from '../src/core/mask/mask-grid.js';
import type { PixelBox } from '../src/core/mask/raster.js';
import { consensusDecision, isConsensusMethod, isTieRule, REFERENCE_ANNOTATOR, type ConsensusRule } from '../src/core/agreement/reference.js';
import type { AgreementService } from './agreement-service.js';
import { readerTiles, roiSpans, tilesUnder } from './agreement/roi-tiles.js';
import type { AuditEvent } from './audit/audit-log.js';
import type { SlideScope } from './identity/access-service.js';
import type { MaskService, SlideInfo } from './mask-service.js';
import { countsJson, deflateTile, histogram, inflateTile } from './masks/tile-codec.js';
import { object, stringList } from './reviews/body-checks.js';
import { LOCKED_STATES } from './reviews/review-states.js';
import type { ConsensusStore, ReferenceEvent } from './store/consensus-store.js';
import { operationHash, type OperationResult, type TileWrite } from './store/mask-store.js';
import type { ReviewStore } from './store/reviews.js';

export interface ConsensusServiceDeps {
  masks: MaskService;
  agreement: AgreementService;
  store: ConsensusStore;
  reviews: ReviewStore;
  /** Whether a reader submitted a reading holding this project slide (ReadingService.unblinds). */
  submittedReading: (userId: string, projectSlideId: string) => boolean;
  audit: (e: AuditEvent) => void;
}

/** The zlib stream of an all-unlabelled tile (what a restore writes where the reference had no tile then). */
let emptyTile: Promise<Buffer> | null = null;

export class ConsensusService {
  /** Slides whose reference is being written by an accept or a restore. */
  private readonly busy = new Set<string>();

  constructor(private readonly d: ConsensusServiceDeps) {}

  /** The slide's reference: its provenance, newest first. */
  async events(scope: SlideScope): Promise<{ slide: string; annotator: string; events: ReferenceEvent[] }> {
    const slideId = await this.d.masks.slideId(scope);
    return { slide: slideId, annotator: REFERENCE_ANNOTATOR, events: this.d.store.ofSlide(slideId) };
  }

  private parseRule(body: Record<string, unknown>, readers: string[]): ConsensusRule {
    const method = body['method'];
    if (!isConsensusMethod(method)) throw new WsiError('CONSENSUS_METHOD_UNKNOWN', `method is majority or staple (got ${JSON.stringify(method ?? null)?.slice(0, 40)})`);
    const ties = body['ties'] ?? 'unlabelled';
    if (!isTieRule(ties)) throw new WsiError('BAD_REQUEST', 'ties is unlabelled (a tie stays undecided) or reader (the tieReader\'s class)');
    if (method === 'staple' && ties !== 'unlabelled') throw new WsiError('BAD_REQUEST', 'ties applies to the majority vote only (STAPLE takes the most probable class, ties to the smaller id)');
    const tieReader = body['tieReader'];
    if (ties === 'reader') {
      const i = typeof tieReader === 'string' ? readers.indexOf(tieReader) : -1;
      if (i < 0) throw new WsiError('BAD_REQUEST', 'with ties = reader, tieReader names one of the readers');
      return { method, ties, tieReader: i };
    }
    if (tieReader !== undefined && tieReader !== null) throw new WsiError('BAD_REQUEST', 'tieReader goes with ties = reader');
    return { method, ties, tieReader: null };
  }

  /** The readers (2 to MAX_READERS with a mask on this slide, never the reference). */
  private parseReaders(slideId: string, raw: unknown): string[] {
    const list = stringList(raw ?? [], 'readers', 64);
    if (list.length < 2) throw new WsiError('CONSENSUS_NEEDS_READERS', `a consensus needs at least 2 readers (got ${list.length})`);
    if (list.includes(REFERENCE_ANNOTATOR)) throw new WsiError('BAD_REQUEST', 'the reference mask is not a reader');
    return this.d.agreement.readers(slideId, list.join(','));
  }

  /** In a blind project every reader has submitted: their region inside the ROI is under review or accepted, or they submitted a reading of this slide. */
  private requireSubmitted(scope: SlideScope, readers: string[], roi: string): void {
    if (!scope.project.blind) return;
    const pending = readers.filter((r) => {
      const item = this.d.reviews.byTarget('region', roi, r);
      return !(item && LOCKED_STATES.has(item.state)) && !this.d.submittedReading(r, scope.projectSlideId);
    });
    if (pending.length > 0) {
      throw new WsiError('CONSENSUS_NOT_SUBMITTED', `this project is blind: ${pending.length} of the readers ha${pending.length === 1 ? 's' : 've'} not submitted their work inside this ROI (or a reading of this slide), so it cannot go into the reference yet`, { readers: pending });
    }
  }

  private claim(slideId: string): void {
    if (this.busy.has(slideId)) throw new WsiError('CONSENSUS_IN_PROGRESS', 'the reference mask of this slide is being written by another accept or restore; retry shortly (the same Idempotency-Key replays an answer already given)');
    this.busy.add(slideId);
  }

  /**
   * Accepts a consensus: body `{roi, readers: [id, …], method: majority |
   * staple, ties?: unlabelled | reader, tieReader?: id}`.
   */
  async accept(scope: SlideScope, actor: string, opId: string, raw: unknown, signal?: AbortSignal): Promise<OperationResult> {
    const body = object(raw);
    const slide = await this.d.masks.slide(scope);
    const readers = this.parseReaders(slide.id, body['readers']);
    const rule = this.parseRule(body, readers);
    const rawRoi = body['roi'];
    const roi = this.d.agreement.roi(slide, typeof rawRoi === 'string' ? rawRoi : rawRoi === undefined || rawRoi === null ? null : String(rawRoi).slice(0, 64));
    const hash = operationHash(['consensus-accept', slide.id, roi.id, rule.method, rule.ties, String(rule.tieReader), readers.join(',')]);
    const prior = this.d.masks.store.prior(opId, slide.id, hash);
    if (prior) return prior;
    this.requireSubmitted(scope, readers, roi.id);
    this.claim(slide.id);
    try {
      const { counts } = await this.d.agreement.roiCounts(slide, readers, roi, signal);
      const decision = consensusDecision(rule, counts, readers.length);
      const pixels: Record<string, number> = {};
      let undecided = 0;
      let total = 0;
      for (const [key, n] of counts) {
        const c = decision.classOf(key);
        pixels[c] = (pixels[c] ?? 0) + n;
        if (decision.tie(key)) undecided += n;
        total += n;
      }
      const writes = await this.compose(slide, readers, roi, decision.classOf, signal);
      const parameters: Record<string, unknown> = {
        ties: rule.method === 'majority' ? (rule.ties === 'reader' ? `reader ${readers[rule.tieReader as number]}` : 'unlabelled') : 'smaller class id',
        pixels: total,
        classes: pixels,
        undecided,
        ...(decision.staple
          ? { staple: { iterations: decision.staple.iterations, converged: decision.staple.converged, classes: decision.staple.classes, sensitivity: Object.fromEntries(readers.map((r, i) => [r, decision.staple?.sensitivity[i]])) } }
          : {}),
      };
      const event = (at: string): ReferenceEvent => ({ id: randomUUID(), slideId: slide.id, kind: 'accept', roi: roi.id, method: rule.method, readers, parameters, tiles: writes.length, opId, actor, at });
      const r = await this.write(slide, writes, opId, hash, event, signal);
      if (r.status < 300) {
        const e = r.body['event'] as ReferenceEvent;
        this.d.audit({ actor, action: 'consensus.accept', projectId: scope.project.id, target: slide.id, detail: { event: e.id, roi: roi.id, method: rule.method, ties: String(parameters['ties']), readers: readers.join(','), tiles: writes.length, pixels: total, undecided } });
      }
      return r;
    } finally {
      this.busy.delete(slide.id);
    }
  }

  /** Restores the whole reference to what it was right after history row `asOf` of it (0: before anything was accepted). Body `{asOf}`. */
  async restore(scope: SlideScope, actor: string, opId: string, raw: unknown, signal?: AbortSignal): Promise<OperationResult> {
    const body = object(raw);
    const asOf = body['asOf'];
    if (typeof asOf !== 'number' || !Number.isSafeInteger(asOf) || asOf < 0) throw new WsiError('BAD_REQUEST', 'asOf is the seq of a history row of the reference mask (GET …/masks/@reference/history), or 0 for the reference before any consensus');
    const slide = await this.d.masks.slide(scope);
    const hash = operationHash(['reference-restore', slide.id, String(asOf)]);
    const prior = this.d.masks.store.prior(opId, slide.id, hash);
    if (prior) return prior;
    const store = this.d.masks.store;
    const maxTx = Math.ceil(slide.width / MASK_TILE) - 1;
    const maxTy = Math.ceil(slide.height / MASK_TILE) - 1;
    let then: Map<string, number>;
    let now: Map<string, number>;
    if (asOf === 0) {
      then = new Map();
      now = new Map(store.tiles(slide.id, REFERENCE_ANNOTATOR).map((t) => [`${t.tx},${t.ty}`, t.version]));
    } else {
      const r = store.regionAsOf(slide.id, REFERENCE_ANNOTATOR, 0, maxTx, 0, maxTy, asOf);
      if (!r) throw new WsiError('NOT_FOUND', `the reference mask of this slide has no history row ${asOf}`);
      ({ then, now } = r);
    }
    this.claim(slide.id);
    try {
      const writes: TileWrite[] = [];
      for (const key of new Set([...then.keys(), ...now.keys()])) {
        signal?.throwIfAborted();
        const v = then.get(key) ?? 0;
        const current = now.get(key) ?? 0;
        if (v === current) continue;
        const [tx, ty] = key.split(',').map(Number) as [number, number];
        const data = v === 0 ? await (emptyTile ??= deflateTile(new Uint8Array(MASK_TILE_PIXELS))) : store.versionData(slide.id, REFERENCE_ANNOTATOR, tx, ty, v);
        if (!data) throw new WsiError('INTERNAL', `version ${v} of reference tile (${tx}, ${ty}) is missing`);
        writes.push({ tx, ty, ifMatch: current, data, pixels: v === 0 ? '{}' : countsJson(histogram(await inflateTile(data))) });
      }
      const event = (at: string): ReferenceEvent => ({ id: randomUUID(), slideId: slide.id, kind: 'restore', roi: null, method: null, readers: [], parameters: { asOf }, tiles: writes.length, opId, actor, at });
      const r = await this.write(slide, writes, opId, hash, event, signal);
      if (r.status < 300) this.d.audit({ actor, action: 'consensus.restore', projectId: scope.project.id, target: slide.id, detail: { event: (r.body['event'] as ReferenceEvent).id, asOf, tiles: writes.length } });
      return r;
    } finally {
      this.busy.delete(slide.id);
    }
  }

  /** Writes the reference's tiles and the event as one mask operation (a replay of `opId` gives the first answer). */
  private async write(slide: SlideInfo, writes: TileWrite[], opId: string, hash: string, event: (at: string) => ReferenceEvent, signal?: AbortSignal): Promise<OperationResult> {
    const store = this.d.masks.store;
    await store.prepareHistory(slide.id, REFERENCE_ANNOTATOR, writes, signal);
    signal?.throwIfAborted();
    let fresh = false;
    const r = store.runOperation(opId, slide.id, hash, 201, (at) => {
      const e = event(at);
      const tiles = writes.map((w, i) => ({ tx: w.tx, ty: w.ty, version: store.writeTile(slide.id, REFERENCE_ANNOTATOR, w, i, 'import', e.actor, at, opId) }));
      this.d.store.add(e);
      fresh = true;
      return { event: e, annotator: REFERENCE_ANNOTATOR, tiles };
    });
    if (fresh && r.status < 300) this.d.masks.onChange(slide.id);
    return r;
  }

  /**
   * The reference tiles the consensus changes: for every tile under the
   * ROI's box, the ROI's pixels (centre rule, as the counts) get the
   * decision for the readers' labels there; the rest of the tile keeps the
   * reference's current class. Tiles left as they were are not written.
   */
  private async compose(slide: SlideInfo, readers: string[], roi: { rings: number[][]; box: PixelBox }, classOf: (key: number) => number, signal?: AbortSignal): Promise<TileWrite[]> {
    const store = this.d.masks.store;
    const R = readers.length;
    const empty = classOf(0) === 0;
    const writes: TileWrite[] = [];
    const { tx0, ty0, tx1, ty1 } = tilesUnder(roi.box);
    for (let ty = ty0; ty <= ty1; ty++) {
      for (let tx = tx0; tx <= tx1; tx++) {
        signal?.throwIfAborted();
        const spans = roiSpans(roi, tx, ty);
        if (spans.length === 0) continue;
        const ref = store.head(slide.id, REFERENCE_ANNOTATOR, tx, ty);
        const { tiles: labels, painted } = await readerTiles(store, slide.id, readers, tx, ty);
        // nobody painted here and the reference has no tile: the decision for all-unlabelled is written only if it is a class
        if (empty && !ref && !painted) continue;
        const out = ref ? await inflateTile(ref.data) : new Uint8Array(MASK_TILE_PIXELS);
        let changed = false;
        let lastKey = -1;
        let lastClass = 0;
        for (let s = 0; s < spans.length; s += 2) {
          const start = spans[s] as number;
          const end = start + (spans[s + 1] as number);
          for (let i = start; i < end; i++) {
            let key = 0;
            for (let r = R - 1; r >= 0; r--) key = key * 256 + ((labels[r] as Uint8Array)[i] as number);
            if (key !== lastKey) {
              lastKey = key;
              lastClass = classOf(key);
            }
            if (out[i] !== lastClass) {
              out[i] = lastClass;
              changed = true;
            }
          }
        }
        if (!changed) continue;
        writes.push({ tx, ty, ifMatch: ref?.version ?? 0, data: await deflateTile(out), pixels: countsJson(histogram(out)) });
      }
    }
    return writes;
  }
}
