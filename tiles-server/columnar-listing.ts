/**
 * One page of the columnar listing (http/columnar-routes.ts). When a slide
 * has predictions kept in blocks (store/prediction-blocks.ts) and the page
 * may be a whole block, the listing runs in two phases: first the head rows
 * the blocks do not hold (manual and corrected objects, predictions of older
 * imports), as today, then one stored block per page, sent as stored with
 * the cursor and total set — re-encoded only when some of its predictions
 * have a corrected object and the layer is `working`. Cursors of the block
 * phase start at BLOCK_CURSOR. Anything else (a box, an import's own
 * objects, the other layers, a small `limit`, an annotator who sees only
 * their own objects) is the row listing as before.
 */
import { encodeColumnarPage, rewriteColumnarFrame, setFrameCursor } from '../src/core/columnar-pages.js';
import type { Annotation } from '../src/core/annotation.js';
import type { AnnotationStore, Layer } from './store/annotation-store.js';
import { BLOCK_CURSOR, BLOCK_OBJECTS, damagedBlock } from './store/prediction-blocks.js';

export interface ColumnarQuery {
  bbox?: [number, number, number, number];
  importOp?: string;
  after?: number;
  limit: number;
  layer?: Layer;
}

/** The layers whose pages can be stored blocks: every prediction (all, model) or every one without a corrected object (working). */
const BLOCK_LAYERS: ReadonlySet<Layer> = new Set<Layer>(['all', 'working', 'model']);

/**
 * The page's frame. `seesAll`: the caller sees every object (else the row
 * listing, filtered by `visible`); `total` goes into the frame.
 */
export function columnarPage(store: AnnotationStore, slideId: string, q: ColumnarQuery, seesAll: boolean, visible: (a: Annotation) => boolean, total: number): Uint8Array {
  const layer = q.layer ?? 'all';
  const byBlocks = seesAll && q.bbox === undefined && q.importOp === undefined && BLOCK_LAYERS.has(layer) && q.limit >= BLOCK_OBJECTS && store.blocks.has(slideId);
  if (!byBlocks) {
    const page = store.list(slideId, q);
    return encodeColumnarPage(page.annotations.filter(visible), page.next, total);
  }
  const after = q.after ?? 0;
  if (after < BLOCK_CURSOR) {
    const page = store.list(slideId, { ...q, withoutBlocks: true });
    if (page.annotations.length > 0) return encodeColumnarPage(page.annotations, page.next ?? BLOCK_CURSOR, total);
  }
  return blockFrame(store, slideId, layer, Math.max(0, after - BLOCK_CURSOR), total);
}

/** The first block after block `afterId`, as a page (an empty last page when there is none). */
function blockFrame(store: AnnotationStore, slideId: string, layer: Layer, afterId: number, total: number): Uint8Array {
  const found = store.blocks.next(slideId, afterId);
  if (!found) return encodeColumnarPage([], null, total);
  const { block, more } = found;
  const next = more ? BLOCK_CURSOR + block.id : null;
  if (layer === 'working') {
    const gone = new Set<string>();
    for (const [rowid, id] of store.blocks.superseded(slideId)) if (rowid >= block.firstRow && rowid <= block.lastRow) gone.add(id);
    if (gone.size > 0) {
      try {
        return rewriteColumnarFrame(block.frame, { keep: (_, id) => !gone.has(id), next, total });
      } catch (err) {
        throw damagedBlock(block.id, (err as Error).message);
      }
    }
  }
  return setFrameCursor(block.frame, next, total);
}
