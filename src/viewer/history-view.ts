/**
 * <wsi-history-view>: the history the server keeps, brought back in the
 * UI. For the selected object: its versions, who (the account) and when,
 * a preview of any version on the slide, and "Restore this version", which
 * writes the version's state as a new version through the normal write
 * path (a local edit: saved, audited and counted like any other, and one
 * Ctrl+Z). For the painted mask: the operations that wrote tiles under the
 * selected ROI (or the current view), a preview of the tiles each wrote, and
 * "Restore", which puts those tiles back as they were right after it — whole
 * tiles, as one undo step (MaskSession.restoreRegion). And the slide's
 * deleted objects, latest first, with who deleted them and when: "Restore"
 * brings one back as a local edit (saved, audited, one Ctrl+Z).
 */
import { LitElement, css, html, nothing } from 'lit';
import type { Geometry } from '../core/annotation.js';
import { MASK_TILE } from '../core/mask/mask-grid.js';
import type { AnnotationSession } from '../session/annotation-session.js';
import type { AuthorName, DeletedPage, ObjectHistory } from '../services/annotation-api.js';
import type { RegionHistory } from '../services/mask-api.js';
import type { AnnotationLayer, OverlayDrawer } from './annotation-layer.js';
import { ObserveController } from './observe-controller.js';
import { floatingStyles } from './floating-styles.js';
import { panelStyles } from './panel-styles.js';

type Mode = 'object' | 'mask' | 'deleted';
type Box = [number, number, number, number];

const OPS: Record<string, string> = { create: 'created', update: 'edited', delete: 'deleted', restore: 'restored', paint: 'painted', import: 'imported' };

/** Who, as the account's name; an author without an account shows as stored. */
export function authorLabel(author: string, authors: Record<string, AuthorName | null>): string {
  const a = authors[author];
  return a ? a.displayName || a.username : author;
}

function when(at: string): string {
  const d = new Date(at);
  return Number.isNaN(d.getTime()) ? at : d.toLocaleString(undefined, { dateStyle: 'short', timeStyle: 'medium' });
}

function pathOf(ctx: CanvasRenderingContext2D, g: Geometry, toScreen: (x: number, y: number) => [number, number]): void {
  const ring = (pts: Array<[number, number]>, close: boolean): void => {
    pts.forEach((p, i) => {
      const [x, y] = toScreen(p[0], p[1]);
      if (i === 0) ctx.moveTo(x, y);
      else ctx.lineTo(x, y);
    });
    if (close) ctx.closePath();
  };
  const dot = (p: [number, number]): void => {
    const [x, y] = toScreen(p[0], p[1]);
    ctx.moveTo(x + 6, y);
    ctx.arc(x, y, 6, 0, 2 * Math.PI);
  };
  if (g.type === 'Point') dot(g.coordinates);
  else if (g.type === 'MultiPoint') g.coordinates.forEach(dot);
  else if (g.type === 'LineString') ring(g.coordinates, false);
  else if (g.type === 'Polygon') g.coordinates.forEach((r) => ring(r, true));
  else g.coordinates.forEach((p) => p.forEach((r) => ring(r, true)));
}

/** A dashed magenta outline with a label: unlike any class colour or the cyan of the tools. */
function previewDrawer(label: string, draw: (ctx: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]) => [number, number] | null): OverlayDrawer {
  return (ctx, toScreen) => {
    ctx.save();
    ctx.lineWidth = 3;
    ctx.strokeStyle = '#ff00c8';
    ctx.setLineDash([8, 5]);
    ctx.beginPath();
    const at = draw(ctx, toScreen);
    ctx.stroke();
    if (at) {
      ctx.setLineDash([]);
      ctx.font = 'bold 13px system-ui, sans-serif';
      const w = ctx.measureText(label).width + 10;
      ctx.fillStyle = '#ff00c8';
      ctx.fillRect(at[0], at[1] - 20, w, 20);
      ctx.fillStyle = '#fff';
      ctx.fillText(label, at[0] + 5, at[1] - 6);
    }
    ctx.restore();
  };
}

export class WsiHistoryView extends LitElement {
  static override properties = {
    session: { attribute: false },
    layer: { attribute: false },
    mode: { state: true },
    objectHistory: { state: true },
    region: { state: true },
    regionBox: { state: true },
    deleted: { state: true },
    previewing: { state: true },
    busy: { state: true },
    status: { state: true },
  };

  declare session: AnnotationSession | null;
  declare layer: AnnotationLayer | null;
  declare mode: Mode;
  declare objectHistory: ObjectHistory | null;
  declare region: RegionHistory | null;
  declare regionBox: Box | null;
  /** The slide's deleted objects (mode 'deleted'). */
  declare deleted: DeletedPage | null;
  /** The version (object) or operation seq (mask) previewed on the slide. */
  declare previewing: number | null;
  declare busy: boolean;
  declare status: string | null;
  private loadedFor: string | null = null;

  constructor() {
    super();
    this.session = null;
    this.layer = null;
    this.mode = 'object';
    this.objectHistory = null;
    this.region = null;
    this.regionBox = null;
    this.deleted = null;
    this.previewing = null;
    this.busy = false;
    this.status = null;
    new ObserveController(this, () => this.session, (s, changed) => [
      s.selection.onChange(() => {
        changed();
        void this.reloadIfSelectionChanged();
      }),
      s.sync.onChange(() => {
        changed();
        this.refreshIfSaved();
      }),
      s.store.observe(changed),
    ]);
  }

  static override styles = [
    panelStyles,
    floatingStyles,
    css`
      :host {
        width: 430px;
      }
      .tabs button[aria-pressed='true'] {
        background: #1d1d1f;
        color: #fff;
      }
      table {
        width: 100%;
        border-collapse: collapse;
      }
      th,
      td {
        text-align: left;
        padding: 4px 4px;
        border-bottom: 1px solid #eee;
        vertical-align: middle;
      }
      th {
        font-size: 11px;
        color: #666;
        font-weight: 600;
      }
      tr.current td {
        background: #f1f6ff;
      }
      tr.previewing td {
        background: #ffe6f8;
      }
      td.actions {
        white-space: nowrap;
        text-align: right;
      }
      td.actions button {
        padding: 2px 6px;
        font-size: 12px;
      }
      .where {
        color: #555;
        font-size: 12px;
        margin: 4px 0 6px;
      }
      .status {
        margin-top: 6px;
      }
    `,
  ];

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    this.preview(null);
  }

  /** Shows the history of the selection (or, for the mask, of the selected ROI or the view). */
  async open(mode: Mode): Promise<void> {
    this.mode = mode;
    this.status = null;
    this.preview(null);
    await this.reload();
  }

  private selectedId(): string | null {
    const s = this.session;
    return s && s.selection.size === 1 ? (s.selection.list()[0] as string) : null;
  }

  private async reloadIfSelectionChanged(): Promise<void> {
    if (this.mode !== 'object' || this.selectedId() === this.loadedFor) return;
    this.status = null;
    this.preview(null);
    await this.reload();
  }

  /** After a save: the object's list again when the server holds a newer version than it shows (a restore, an undo, any edit). */
  private refreshIfSaved(): void {
    const s = this.session;
    const h = this.objectHistory;
    if (!s || !h || this.busy || this.mode !== 'object') return;
    const handle = s.store.handleOf(h.id);
    const shown = h.history[h.history.length - 1]?.version ?? 0;
    if (handle !== undefined && s.store.versionOf(handle) > shown) void this.reload();
  }

  private async reload(): Promise<void> {
    const s = this.session;
    if (!s) return;
    this.busy = true;
    try {
      if (this.mode === 'object') {
        const id = this.selectedId();
        this.loadedFor = id;
        this.objectHistory = null;
        if (!id) return;
        // an object drawn just now is on the server once its save went through
        if (s.store.versionOf(s.store.handleOf(id) as number) === 0) {
          this.status = 'This object is not saved yet: it has no history.';
          return;
        }
        this.objectHistory = await s.api.history(id);
      } else if (this.mode === 'deleted') {
        this.deleted = await s.api.deleted();
      } else {
        const mask = s.mask;
        if (!mask) {
          this.status = 'This server keeps no painted mask for you.';
          return;
        }
        const box = this.regionOf(s);
        this.regionBox = box;
        this.region = box ? await mask.api.regionHistory(box) : null;
      }
    } catch (err) {
      this.status = (err as Error).message;
    } finally {
      this.busy = false;
    }
  }

  /** The selected ROI's bounds, or the view's, clipped to the slide's first pixel. */
  private regionOf(s: AnnotationSession): Box | null {
    const id = this.selectedId();
    const h = id === null ? undefined : s.store.handleOf(id);
    const b = h !== undefined && s.store.geometry(h).type >= 4 ? s.store.bounds(h) : this.layer?.lastViewBox;
    if (!b) return null;
    return [Math.max(0, b[0]), Math.max(0, b[1]), Math.max(1, b[2]), Math.max(1, b[3])];
  }

  private preview(d: OverlayDrawer | null, which: number | null = null): void {
    this.previewing = d ? which : null;
    if (this.layer) {
      this.layer.preview = d;
      this.layer.redraw();
    }
  }

  private previewVersion(v: ObjectHistory['history'][number]): void {
    if (this.previewing === v.version) return this.preview(null);
    const g = v.annotation.geometry;
    this.preview(
      previewDrawer(`v${v.version}`, (ctx, toScreen) => {
        pathOf(ctx, g, toScreen);
        const first = g.type === 'Point' ? g.coordinates : g.type === 'Polygon' ? g.coordinates[0]?.[0] : g.type === 'MultiPolygon' ? g.coordinates[0]?.[0]?.[0] : g.coordinates[0];
        return first ? toScreen(first[0], first[1]) : null;
      }),
      v.version,
    );
  }

  private previewOperation(o: RegionHistory['operations'][number]): void {
    if (this.previewing === o.seq) return this.preview(null);
    this.preview(
      previewDrawer(`${OPS[o.op] ?? o.op} · ${o.tiles.length} tile${o.tiles.length === 1 ? '' : 's'}`, (ctx, toScreen) => {
        let top: [number, number] | null = null;
        for (const t of o.tiles) {
          const [x0, y0] = toScreen(t.tx * MASK_TILE, t.ty * MASK_TILE);
          const [x1, y1] = toScreen((t.tx + 1) * MASK_TILE, (t.ty + 1) * MASK_TILE);
          ctx.rect(x0, y0, x1 - x0, y1 - y0);
          if (!top || y0 < top[1] || (y0 === top[1] && x0 < top[0])) top = [x0, y0];
        }
        return top;
      }),
      o.seq,
    );
  }

  /** Writes version `v`'s state as a new version of the object: a local edit (saved, undoable). */
  private restoreVersion(v: ObjectHistory['history'][number]): void {
    const s = this.session;
    const id = this.objectHistory?.id;
    const handle = id === undefined ? undefined : s?.store.handleOf(id);
    if (!s || !id || handle === undefined || s.store.lockedOf(handle)) return;
    const a = v.annotation;
    s.store.apply(
      { update: [{ id, changes: { kind: a.kind, geometry: a.geometry, classification: a.classification, name: a.name, note: a.note, locked: a.locked, objectType: a.objectType, properties: a.properties } }] },
      'local',
      `Restore version ${v.version}`,
    );
    this.preview(null);
    this.status = `Version ${v.version} restored as a new version. Ctrl+Z undoes.`;
    // the list shows the new version once the save went through (refreshIfSaved)
  }

  /** Brings a deleted object back as it was when deleted: a local edit (the sync restores it on the server; Ctrl+Z deletes it again). */
  private restoreDeleted(a: DeletedPage['annotations'][number]): void {
    const s = this.session;
    if (!s || s.readOnly) return;
    if (s.store.handleOf(a.id) !== undefined) {
      this.status = 'This object is on the slide already.';
      return;
    }
    s.store.apply(
      { create: [{ id: a.id, kind: a.kind, geometry: a.geometry, classification: a.classification, name: a.name, note: a.note, locked: a.locked, objectType: a.objectType, properties: a.properties, version: a.version }] },
      'local',
      'Restore deleted object',
    );
    this.preview(null);
    this.deleted = this.deleted ? { ...this.deleted, annotations: this.deleted.annotations.filter((x) => x.id !== a.id) } : null;
    this.status = `${a.name || a.classification || 'The object'} is back on the slide. Ctrl+Z deletes it again.`;
  }

  private previewDeleted(a: DeletedPage['annotations'][number], i: number): void {
    if (this.previewing === i) return this.preview(null);
    const g = a.geometry;
    this.preview(
      previewDrawer('deleted', (ctx, toScreen) => {
        pathOf(ctx, g, toScreen);
        const first = g.type === 'Point' ? g.coordinates : g.type === 'Polygon' ? g.coordinates[0]?.[0] : g.type === 'MultiPolygon' ? g.coordinates[0]?.[0]?.[0] : g.coordinates[0];
        return first ? toScreen(first[0], first[1]) : null;
      }),
      i,
    );
  }

  private renderDeleted(): unknown {
    const d = this.deleted;
    const s = this.session;
    if (!d || !s) return nothing;
    if (d.annotations.length === 0) return html`<div class="where">No deleted objects on this slide${s.readOnly ? '' : ' that you may restore'}.</div>`;
    const ro = s.readOnly;
    return html`<div class="where">Deleted objects on this slide, latest first. Restore brings one back as it was when deleted.</div>
      <table data-testid="deleted-objects">
        <thead>
          <tr><th>Object</th><th>Deleted by</th><th>When</th><th></th></tr>
        </thead>
        <tbody>
          ${d.annotations.map(
            (a, i) => html`<tr class=${this.previewing === i ? 'previewing' : ''} data-id=${a.id}>
              <td>${a.name || a.kind}${a.classification ? html`<br /><small>${a.classification}</small>` : nothing}</td>
              <td data-testid="who">${authorLabel(a.updatedBy, d.authors)}</td>
              <td>${when(a.updatedAt)}</td>
              <td class="actions">
                <button data-testid=${`preview-deleted${i}`} aria-pressed=${this.previewing === i ? 'true' : 'false'} title="Outline it on the slide (dashed magenta)" @click=${() => this.previewDeleted(a, i)}>Preview</button>
                <button data-testid=${`restore-deleted${i}`} ?disabled=${!!ro} title=${ro ?? 'Bring it back as it was when deleted (Ctrl+Z undoes)'} @click=${() => this.restoreDeleted(a)}>Restore</button>
              </td>
            </tr>`,
          )}
        </tbody>
      </table>
      ${d.next !== null ? html`<div class="where">Only the latest ${d.annotations.length} deletions are listed.</div>` : nothing}`;
  }

  private async restoreOperation(o: RegionHistory['operations'][number]): Promise<void> {
    const s = this.session;
    const box = this.regionBox;
    if (!s?.mask || !box) return;
    this.busy = true;
    try {
      const n = await s.mask.restoreRegion(box, o.seq, `Restore mask as after ${when(o.at)}`);
      this.preview(null);
      this.status = n === 0 ? 'The tiles are already as they were then: nothing changed.' : `${n} tile${n === 1 ? '' : 's'} put back as they were after that ${OPS[o.op] ?? o.op}. Ctrl+Z undoes.`;
      await s.mask.sync.drain();
      await this.reload();
    } catch (err) {
      this.status = `Not restored: ${(err as Error).message}`;
    } finally {
      this.busy = false;
    }
  }

  private renderObject(): unknown {
    const s = this.session;
    const h = this.objectHistory;
    if (!s) return nothing;
    if (!this.selectedId()) return html`<div class="where">Select one object to see its versions.</div>`;
    if (!h) return nothing;
    const handle = s.store.handleOf(h.id);
    // a locked object is not changed until it is unlocked, by a restore no more than by any edit
    const ro = s.readOnly ?? (handle !== undefined && s.store.lockedOf(handle) ? 'The object is locked: unlock it (L) to restore a version.' : null);
    const current = h.history[h.history.length - 1]?.version;
    return html`<table data-testid="object-history">
      <thead>
        <tr><th>Version</th><th>What</th><th>Who</th><th>When</th><th></th></tr>
      </thead>
      <tbody>
        ${[...h.history].reverse().map(
          (v) => html`<tr class=${v.version === current ? 'current' : this.previewing === v.version ? 'previewing' : ''} data-version=${v.version}>
            <td>v${v.version}${v.version === current ? html` <small>(now)</small>` : nothing}</td>
            <td>${OPS[v.op] ?? v.op}${v.annotation.classification ? html`<br /><small>${v.annotation.classification}</small>` : nothing}</td>
            <td data-testid="who">${authorLabel(v.author, h.authors)}</td>
            <td>${when(v.at)}</td>
            <td class="actions">
              ${v.annotation.deleted
                ? nothing
                : html`<button data-testid=${`preview-v${v.version}`} aria-pressed=${this.previewing === v.version ? 'true' : 'false'} title="Show this version on the slide (dashed magenta)" @click=${() => this.previewVersion(v)}>Preview</button>`}
              ${v.version === current || v.annotation.deleted
                ? nothing
                : html`<button data-testid=${`restore-v${v.version}`} ?disabled=${!!ro || this.busy} title=${ro ?? 'Make this version the current one (a new version; Ctrl+Z undoes)'} @click=${() => this.restoreVersion(v)}>Restore</button>`}
            </td>
          </tr>`,
        )}
      </tbody>
    </table>`;
  }

  private renderMask(): unknown {
    const s = this.session;
    const r = this.region;
    const box = this.regionBox;
    if (!s || !r || !box) return nothing;
    const ro = s.readOnly;
    const where = `x ${Math.round(box[0]).toLocaleString()}–${Math.round(box[2]).toLocaleString()}, y ${Math.round(box[1]).toLocaleString()}–${Math.round(box[3]).toLocaleString()}`;
    return html`<div class="where" data-testid="mask-region">Tiles under ${this.selectedId() ? 'the selected region' : 'the view'} (${where}). Restore puts whole 512-px tiles back as they were right after the chosen change.</div>
      ${r.operations.length === 0
        ? html`<div>Nothing painted here yet.</div>`
        : html`<table data-testid="mask-history">
            <thead>
              <tr><th>What</th><th>Who</th><th>When</th><th></th></tr>
            </thead>
            <tbody>
              ${r.operations.map(
                (o, i) => html`<tr class=${i === 0 ? 'current' : this.previewing === o.seq ? 'previewing' : ''} data-seq=${o.seq}>
                  <td>${OPS[o.op] ?? o.op} · ${o.tiles.length} tile${o.tiles.length === 1 ? '' : 's'}${i === 0 ? html` <small>(latest)</small>` : nothing}</td>
                  <td data-testid="who">${authorLabel(o.author, r.authors)}</td>
                  <td>${when(o.at)}</td>
                  <td class="actions">
                    <button data-testid=${`preview-op${i}`} aria-pressed=${this.previewing === o.seq ? 'true' : 'false'} title="Outline the tiles this change wrote" @click=${() => this.previewOperation(o)}>Preview</button>
                    ${i === 0
                      ? nothing
                      : html`<button data-testid=${`restore-op${i}`} ?disabled=${!!ro || this.busy} title=${ro ?? 'Put these tiles back as they were right after this change (one undo step)'} @click=${() => void this.restoreOperation(o)}>Restore</button>`}
                  </td>
                </tr>`,
              )}
            </tbody>
          </table>
          ${r.truncated ? html`<div class="where">Older changes are not listed: choose a smaller region.</div>` : nothing}`}`;
  }

  protected override render(): unknown {
    return html`<header>
        <h2>History</h2>
        <span class="tabs" role="group" aria-label="History of">
          <button data-testid="history-object" aria-pressed=${this.mode === 'object' ? 'true' : 'false'} @click=${() => void this.open('object')}>Object</button>
          <button data-testid="history-mask" aria-pressed=${this.mode === 'mask' ? 'true' : 'false'} ?disabled=${!this.session?.mask} @click=${() => void this.open('mask')}>Mask region</button>
          <button data-testid="history-deleted" aria-pressed=${this.mode === 'deleted' ? 'true' : 'false'} @click=${() => void this.open('deleted')}>Deleted</button>
        </span>
        <button data-testid="history-close" aria-label="Close the history" title="Close (Esc)" @click=${() => this.dispatchEvent(new CustomEvent('wsi-close', { bubbles: true, composed: true }))}>✕</button>
      </header>
      <div class="body">
        ${this.busy ? html`<div>Loading…</div>` : nothing}
        ${this.mode === 'object' ? this.renderObject() : this.mode === 'deleted' ? this.renderDeleted() : this.renderMask()}
        ${this.status ? html`<div class="status" data-testid="history-status" role="status">${this.status}</div>` : nothing}
      </div>`;
  }
}

if (!customElements.get('wsi-history-view')) customElements.define('wsi-history-view', WsiHistoryView);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-history-view': WsiHistoryView;
  }
}
