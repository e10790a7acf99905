/**
 * <wsi-annotation-panel>: tools (from the tool registry), class palette,
 * display options and layers per class, the selected object's details,
 * save status and conflicts, import and export. A fixed header holds the
 * save status, the current tool and class and the tool buttons; the rest
 * are collapsible sections that scroll under it, and the panel's width is
 * dragged from its left edge (both remembered: panel-layout.ts). The viewer passes in the session, the
 * layer and the tool host; the panel re-renders when they change (an
 * ObserveController) and sends the class choice and imports up as events.
 */
import { LitElement, css, html, nothing } from 'lit';
import { GeomType, flatArea } from '../core/flat-geometry.js';
import { formatLength } from '../core/scale.js';
import type { AnnotationSession } from '../session/annotation-session.js';
import { setClassOfSelection } from '../tools/edit-actions.js';
import { deleteSelected, subtractSelected, toggleLockSelected, unionSelected } from '../tools/selection-edits.js';
import type { AnnotationLayer } from './annotation-layer.js';
import type { MaskLayer } from './mask-layer.js';
import { ObserveController } from './observe-controller.js';
import { PanelLayout } from './panel-layout.js';
import { panelStyles } from './panel-styles.js';
import { syncStatusClass, syncStatusText } from './sync-status.js';
import { toolButtons, toolStatus } from './tool-buttons.js';
import type { DisagreementLayer } from './disagreement-layer.js';
import type { ToolHost } from './tool-host.js';
import { fire } from './viewer-events.js';
import './consensus-controls.js';
import './agreement-figures.js';
import './history-view.js';
import './measurements-view.js';
import './layers-table.js';
import type { WsiHistoryView } from './history-view.js';

const ANNOTATION_STATUS = {
  saved: 'All changes saved',
  saving: (n: number) => `Saving ${n} change${n === 1 ? '' : 's'}…`,
  edit: 'change',
  conflict: 'Conflict',
  failed: 'Not saved',
};

export class WsiAnnotationPanel extends LitElement {
  static override properties = {
    layer: { attribute: false },
    session: { attribute: false },
    host: { attribute: false },
    mpp: { attribute: false },
    currentClass: { attribute: false },
    maskLayer: { attribute: false },
    disagreement: { attribute: false },
    importStatus: { state: true },
    openView: { state: true },
  };

  declare layer: AnnotationLayer | null;
  declare session: AnnotationSession | null;
  declare host: ToolHost | null;
  declare mpp: number | null;
  declare currentClass: string | null;
  /** The painted mask's display, shown in the Display section (null without a mask). */
  declare maskLayer: MaskLayer | null;
  /** The disagreement map's display (reviewers and managers; null otherwise). */
  declare disagreement: DisagreementLayer | null;
  declare importStatus: string | null;
  /** The floating view shown beside the panel: the history or the per-region measurements. */
  declare openView: 'history' | 'measurements' | null;
  /** Which sections are collapsed and the panel's width, remembered (panel-layout.ts). */
  private readonly layout = new PanelLayout(() => this.requestUpdate());
  private readonly closeOnEsc = (e: KeyboardEvent): void => {
    if (e.key !== 'Escape' || !this.openView) return;
    // first (capture on window), and only this: Esc closes the view without also clearing the selection
    e.stopPropagation();
    this.showView(null);
  };

  constructor() {
    super();
    this.layer = null;
    this.session = null;
    this.host = null;
    this.mpp = null;
    this.currentClass = 'Tumour';
    this.maskLayer = null;
    this.disagreement = null;
    this.importStatus = null;
    this.openView = null;
    new ObserveController(this, () => this.session, (s, changed) => [
      s.sync.onChange(changed),
      s.onProgress(changed),
      s.selection.onChange(changed),
      s.undo.onChange(changed),
      s.store.observe(changed),
    ]);
    new ObserveController(this, () => this.host, (h, changed) => [h.onChange(changed)]);
  }

  static override styles = [
    panelStyles,
    css`
    :host {
      position: relative;
      display: flex;
      flex-direction: column;
      flex: none;
      width: 250px;
      box-sizing: border-box;
      background: var(--wsi-panel-background, #f7f7f9);
      color: var(--wsi-panel-color, #1d1d1f);
      font: var(--wsi-panel-font, 13px/1.35 system-ui, sans-serif);
      overflow: hidden;
      border-left: 1px solid var(--wsi-panel-border, #d0d0d5);
    }
    /* the header stays put (save status, the tool and class, the tools); the sections scroll under it */
    .head {
      flex: none;
      display: flex;
      flex-direction: column;
      gap: 6px;
      padding: 8px 10px 8px 12px;
      border-bottom: 1px solid var(--wsi-panel-border, #d0d0d5);
      max-height: 55%;
      overflow: auto;
    }
    .body {
      flex: 1;
      min-height: 0;
      overflow: auto;
      display: flex;
      flex-direction: column;
      gap: 8px;
      padding: 6px 10px 10px 12px;
    }
    .now {
      font-size: 12px;
      color: #444;
      white-space: nowrap;
      overflow: hidden;
      text-overflow: ellipsis;
    }
    section.sect h3 {
      margin: 0;
    }
    button.sect-head {
      border: none;
      background: none;
      padding: 2px 0;
      font: inherit;
      text-transform: inherit;
      letter-spacing: inherit;
      color: inherit;
      width: 100%;
    }
    .chev {
      display: inline-block;
      width: 1.1em;
    }
    .sect-body {
      display: flex;
      flex-direction: column;
      gap: 6px;
      margin-top: 4px;
    }
    h4 {
      margin: 4px 0 0;
      font-size: 11px;
      text-transform: uppercase;
      letter-spacing: 0.04em;
      color: #777;
    }
    .resize {
      position: absolute;
      left: 0;
      top: 0;
      bottom: 0;
      width: 6px;
      cursor: ew-resize;
      z-index: 2;
    }
    .resize:hover,
    .resize:focus-visible {
      background: var(--wsi-panel-accent, #4c8bf5);
      opacity: 0.5;
      outline: none;
    }
    button.of-selection {
      border-style: dashed;
      border-color: #333;
    }
    .layers {
      display: grid;
      grid-template-columns: 1fr 80px auto;
      gap: 4px 6px;
      align-items: center;
    }
    .layers .colhead {
      font-size: 11px;
      color: #777;
    }
    .layers label.layer {
      display: flex;
      align-items: center;
      gap: 4px;
      margin: 0;
    }
    .layers span.layer {
      padding-left: 21px;
    }
    .layers input[type='range'] {
      width: 80px;
    }
    .sel-mark {
      margin-left: 4px;
      font-size: 10px;
      color: #333;
    }
    `,
  ];

  private showView(v: 'history' | 'measurements' | null, historyOf: 'object' | 'mask' = 'object'): void {
    this.openView = v;
    if (v) addEventListener('keydown', this.closeOnEsc, true);
    else removeEventListener('keydown', this.closeOnEsc, true);
    if (v === 'history') void this.updateComplete.then(() => (this.renderRoot.querySelector('wsi-history-view') as WsiHistoryView | null)?.open(historyOf));
  }

  protected override updated(): void {
    this.style.width = `${this.layout.width}px`;
    // the floating views (history, measurements) stand left of the panel, whatever its width
    this.style.setProperty('--panel-width', `${this.layout.width}px`);
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    removeEventListener('keydown', this.closeOnEsc, true);
  }

  /** The class of new objects and of paint; the selection keeps its class (see "Set class"). */
  private pickClass(name: string): void {
    this.currentClass = name;
    fire(this, 'wsi-class-change', { name });
  }

  /** The classes of the selected objects (marked in the palette, apart from the current class). */
  private selectionClasses(): Set<string | null> {
    const s = this.session;
    const out = new Set<string | null>();
    if (!s) return out;
    for (const id of s.selection.list().slice(0, 10_000)) {
      const h = s.store.handleOf(id);
      if (h !== undefined) out.add(s.store.record(h).classification);
    }
    return out;
  }

  private selectedRecord() {
    const s = this.session;
    if (!s || s.selection.size !== 1) return null;
    const h = s.store.handleOf(s.selection.list()[0] as string);
    return h === undefined ? null : { h, r: s.store.record(h) };
  }

  /** The selected object's id when it is a polygon (an ROI a consensus can be accepted in), else null. */
  private selectedRoi(): string | null {
    const sel = this.selectedRecord();
    const t = sel && this.session ? this.session.store.geometry(sel.h).type : null;
    return sel && (t === GeomType.Polygon || t === GeomType.MultiPolygon) ? sel.r.id : null;
  }

  private setField(field: 'name' | 'note', value: string): void {
    const sel = this.selectedRecord();
    if (!sel || sel.r.locked) return;
    const v = value.trim() === '' ? null : value;
    if (v === sel.r[field]) return;
    this.session?.store.apply({ update: [{ id: sel.r.id, changes: { [field]: v } }] }, 'local', field === 'name' ? 'Rename' : 'Edit note');
  }

  private async importFile(e: Event): Promise<void> {
    const input = e.target as HTMLInputElement;
    const file = input.files?.[0];
    const format = (this.renderRoot.querySelector('#import-format') as HTMLSelectElement).value;
    input.value = '';
    const s = this.session;
    if (!file || !s) return;
    this.importStatus = `Uploading ${file.name}… 0%`;
    const opId = crypto.randomUUID();
    try {
      const r = await s.api.importFile(format, file, opId, (f) => (this.importStatus = f < 1 ? `Uploading ${file.name}… ${Math.round(f * 100)}%` : `Importing ${file.name}…`));
      if (r.status !== 201 && r.status !== 200) {
        this.importStatus = `Not imported: ${String(r.body['message'] ?? r.status)}`;
        return;
      }
      const per = r.body['perClass'] as Record<string, number>;
      const skipped = (r.body['skipped'] as unknown[]).length;
      const warnings = (r.body['warnings'] as string[] | undefined) ?? [];
      const report = `Imported ${String(r.body['imported'])} objects (${Object.entries(per)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ')})${skipped ? `; ${skipped} skipped` : ''}.${warnings.map((w) => ` Warning: ${w}.`).join('')}`;
      this.importStatus = report;
      // show them, as one undo step (the slide is not reloaded: the undo history stays)
      const shown = await s.adoptImport(opId, `Import ${file.name}`);
      if (shown > 0) this.importStatus = `${report} Ctrl+Z undoes the import.`;
      fire(this, 'wsi-annotations-imported', { imported: Number(r.body['imported'] ?? 0) });
    } catch (err) {
      this.importStatus = `Not imported: ${(err as Error).message}`;
    }
  }

  /**
   * One row per layer — the annotations, and the painted mask when there is
   * one — each with its opacity, "outlines only" and (annotations) visibility,
   * so no two controls share a label.
   */
  private renderDisplay(): unknown {
    const layer = this.layer;
    const mask = this.maskLayer;
    const dis = this.disagreement;
    const n = this.session?.store.size ?? 0;
    return html`<div class="layers" role="group" aria-label="Display">
      <span></span><span class="colhead">Opacity</span><span class="colhead" title="Outlines only">Outline</span>
      <label class="layer"
        ><input type="checkbox" data-testid="annotations-visible" aria-label="Show annotations" .checked=${layer?.visible ?? true} @change=${(e: Event) => {
          if (!layer) return;
          layer.visible = (e.target as HTMLInputElement).checked;
          layer.redraw();
        }} />Annotations (${n.toLocaleString()})</label
      >
      <input type="range" min="0" max="1" step="0.05" data-testid="annotations-opacity" aria-label="Annotation fill opacity" .value=${String(layer?.fillAlpha ?? 0.25)} @input=${(e: Event) => {
        if (!layer) return;
        layer.fillAlpha = Number((e.target as HTMLInputElement).value);
        layer.restyle();
      }} />
      <input type="checkbox" data-testid="annotations-outline" aria-label="Annotations as outlines only" .checked=${layer?.outlineOnly ?? false} @change=${(e: Event) => {
        if (!layer) return;
        layer.outlineOnly = (e.target as HTMLInputElement).checked;
        layer.restyle();
      }} />
      ${mask
        ? html`<span class="layer">Mask</span>
            <input type="range" min="0" max="1" step="0.05" data-testid="mask-opacity" aria-label="Mask opacity" .value=${String(mask.opacity)} @input=${(e: Event) => (mask.opacity = Number((e.target as HTMLInputElement).value))} />
            <input type="checkbox" data-testid="mask-outline" aria-label="Mask as outlines only" .checked=${mask.outline} @change=${(e: Event) => (mask.outline = (e.target as HTMLInputElement).checked)} />`
        : nothing}
      ${dis
        ? html`<label class="layer" title="Per 64-px block, the share of readers who disagree (yellow → red)"
              ><input type="checkbox" data-testid="disagreement-visible" aria-label="Show the disagreement map" .checked=${dis.visible} @change=${(e: Event) => void dis.setVisible((e.target as HTMLInputElement).checked).then(() => this.requestUpdate())} />Disagreement</label
            >
            <input type="range" min="0" max="1" step="0.05" data-testid="disagreement-opacity" aria-label="Disagreement map opacity" .value=${String(dis.opacity)} @input=${(e: Event) => {
              dis.opacity = Number((e.target as HTMLInputElement).value);
              dis.draw();
            }} />
            <span></span>
            ${dis.visible && dis.status ? html`<span class="colhead" data-testid="disagreement-status" style="grid-column: 1 / -1">${dis.status}</span>` : nothing}
            ${dis.visible ? html`<wsi-consensus-controls .layer=${dis} .readers=${dis.readerIds} .roi=${this.selectedRoi()}></wsi-consensus-controls>` : nothing}
            ${dis.visible ? html`<wsi-agreement-figures .api=${dis.api} .readers=${dis.readerIds} .roi=${this.selectedRoi()}></wsi-agreement-figures>` : nothing}`
        : nothing}
    </div>`;
  }

  private renderDetails(): unknown {
    const sel = this.selectedRecord();
    const s = this.session;
    if (!s) return nothing;
    if (!sel) return s.selection.size > 1 ? html`<div>${s.selection.size} objects selected</div>` : html`<div style="color:#777">Nothing selected</div>`;
    const { h, r } = sel;
    const g = s.store.geometry(h);
    let measure = '';
    if (g.type === GeomType.Polygon || g.type === GeomType.MultiPolygon) {
      const a = flatArea(g.coords, 0, g.type, g.parts);
      measure = this.mpp ? `Area ${(a * this.mpp * this.mpp).toLocaleString(undefined, { maximumFractionDigits: 1 })} µm²` : `Area ${Math.round(a).toLocaleString()} px²`;
    } else if (g.type === GeomType.LineString) {
      let len = 0;
      for (let k = 2; k < g.coords.length; k += 2) len += Math.hypot((g.coords[k] as number) - (g.coords[k - 2] as number), (g.coords[k + 1] as number) - (g.coords[k - 1] as number));
      measure = this.mpp ? `Length ${formatLength(len * this.mpp)}` : `Length ${len.toFixed(1)} px`;
    }
    return html`
      <div data-testid="details">
        <div>${r.kind} · ${r.classification ?? 'no class'}${r.locked ? ' · locked' : ''}</div>
        <div data-testid="measure">${measure}</div>
        <label for="name">Name</label>
        <input id="name" type="text" .value=${r.name ?? ''} ?disabled=${r.locked || !!this.session?.readOnly} @change=${(e: Event) => this.setField('name', (e.target as HTMLInputElement).value)} />
        <label for="note">Note</label>
        <textarea id="note" rows="3" .value=${r.note ?? ''} ?disabled=${r.locked || !!this.session?.readOnly} @change=${(e: Event) => this.setField('note', (e.target as HTMLTextAreaElement).value)}></textarea>
      </div>
    `;
  }

  private renderConflict(): unknown {
    const c = this.session?.sync.snapshot.conflict;
    if (!c) return nothing;
    const cur = c.current;
    const summary = (o: Record<string, unknown> | null): string =>
      o ? ['name', 'classification', 'note', 'locked'].map((k) => `${k}: ${JSON.stringify(o[k] ?? null)}`).join('\n') : 'deleted on the server';
    const mine = c.mine.op === 'create' ? c.mine.annotation : c.mine.op === 'update' ? c.mine.changes : null;
    return html`<div class="conflict" role="alertdialog" aria-label="Conflict" data-testid="conflict">
      <strong>Someone else changed this object</strong>
      <div>${c.message}</div>
      <div>Theirs (v${cur?.version ?? '?'}, ${cur?.updatedBy ?? '?'}):</div>
      <pre data-testid="conflict-theirs">${cur?.deleted ? 'deleted' : summary(cur as unknown as Record<string, unknown> | null)}</pre>
      <div>Yours:</div>
      <pre data-testid="conflict-mine">${c.mine.op === 'delete' ? 'delete it' : summary(mine as Record<string, unknown> | null)}</pre>
      <div class="grid">
        <button data-testid="keep-mine" @click=${() => void this.session?.sync.resolve('mine')}>Keep mine</button>
        <button data-testid="take-theirs" @click=${() => void this.session?.sync.resolve('theirs')}>Use theirs</button>
      </div>
      <div style="color:#555;font-size:12px">Either way both versions stay in the history.</div>
    </div>`;
  }

  protected override render(): unknown {
    const s = this.session;
    const st = s?.sync.snapshot ?? null;
    const progress = s?.progress ?? null;
    const undo = s?.undo;
    const edit = s ? { store: s.store, selection: s.selection } : null;
    const selClasses = this.selectionClasses();
    // read-only (a read-only project, a viewer): what would change something is disabled, the reason is under Tools
    const ro = s?.readOnly ?? null;
    const current = this.host?.active.spec.label ?? null;
    return html`
      ${this.layout.handle()}
      <div class="head" data-testid="panel-head">
        ${st ? html`<div class="status ${syncStatusClass(st)}" data-testid="sync-status" data-status=${st.status} data-queued=${st.queued} role="status">${syncStatusText(st, ANNOTATION_STATUS)}</div>` : nothing}
        ${st && !st.durable ? html`<div class="status bad">${st.message}</div>` : nothing}
        ${this.renderConflict()}
        ${progress && !progress.done
          ? html`<div data-testid="load-progress">Loading annotations ${progress.loaded.toLocaleString()} / ${progress.total.toLocaleString()}</div>`
          : nothing}
        ${progress?.error ? html`<div class="status bad">${progress.error}</div>` : nothing}
        <div class="now" data-testid="panel-now">${current ? html`<b>${current}</b>` : nothing}${this.currentClass ? html` · <span class="swatch" style=${`background:${s?.palette.find((c) => c.name === this.currentClass)?.color ?? '#bbb'}`}></span>${this.currentClass}` : nothing}</div>
        <div class="grid">${toolButtons(this.host, 'annotate')}</div>
        ${toolStatus(this.host, 'annotate')}
        <div class="grid">
          <button data-testid="undo" ?disabled=${!undo?.canUndo} title=${`Undo ${undo?.undoLabel ?? ''} (Ctrl+Z)`} @click=${() => undo?.undo()}>Undo</button>
          <button data-testid="redo" ?disabled=${!undo?.canRedo} title=${`Redo ${undo?.redoLabel ?? ''} (Ctrl+Shift+Z)`} @click=${() => undo?.redo()}>Redo</button>
          <button data-testid="union" ?disabled=${!!ro} title="Merge the selected regions (u)" @click=${() => edit && unionSelected(edit)}>Union</button>
          <button data-testid="subtract" ?disabled=${!!ro} title="Cut the other selected regions out of the first (U)" @click=${() => edit && subtractSelected(edit)}>Subtract</button>
          <button data-testid="lock" ?disabled=${!!ro} title="Lock or unlock the selection (L)" @click=${() => edit && toggleLockSelected(edit)}>Lock</button>
          <button data-testid="delete" ?disabled=${!!ro} title="Delete the selection (Del)" @click=${() => edit && deleteSelected(edit)}>Delete</button>
        </div>
      </div>
      <div class="body" data-testid="panel-body">
        ${s?.mask ? this.layout.section('paint', 'Paint', () => html`<slot name="mask"></slot>`) : html`<slot name="mask"></slot>`}
        ${this.layout.section('classes', 'Classes', () => this.renderClasses(selClasses, ro))}
        ${this.layout.section('display', 'Display', () => html`${this.renderDisplay()}
          <h4>Layers</h4>
          <wsi-layers-table .session=${s}></wsi-layers-table>
          <button data-testid="list-toggle" title="Every object in a table: sort, search, filter, fly to (T)" @click=${() => this.dispatchEvent(new Event('wsi-list-toggle', { bubbles: true, composed: true }))}>☰ Annotation list<kbd>T</kbd></button>`)}
        ${this.layout.section('selected', 'Selected', () => this.renderSelected(ro))}
        ${this.openView === 'history' ? html`<wsi-history-view .session=${s} .layer=${this.layer} @wsi-close=${() => this.showView(null)}></wsi-history-view>` : nothing}
        ${this.openView === 'measurements' ? html`<wsi-measurements-view .session=${s} .mpp=${this.mpp} @wsi-close=${() => this.showView(null)}></wsi-measurements-view>` : nothing}
        ${this.layout.section('files', 'Files', () => this.renderFiles(ro))}
      </div>
    `;
  }

  private renderClasses(selClasses: Set<string | null>, ro: string | null): unknown {
    const s = this.session;
    return html`<div class="grid">
      ${(s?.palette ?? []).map(
        (c) =>
          html`<button
            data-testid=${`class-${c.name}`}
            aria-pressed=${this.currentClass === c.name ? 'true' : 'false'}
            ?disabled=${!!ro}
            class=${selClasses.has(c.name) ? 'of-selection' : ''}
            title=${ro ?? `Draw and paint ${c.name}${c.hotkey ? ` (${c.hotkey})` : ''}${selClasses.has(c.name) ? '; ◆ marks the class of the selection' : ''}`}
            @click=${() => this.pickClass(c.name)}
          >
            <span class="swatch" style=${`background:${c.color}`}></span>${c.name}${selClasses.has(c.name) ? html`<span class="sel-mark" aria-label="class of the selection">◆</span>` : nothing}${c.hotkey ? html`<kbd>${c.hotkey}</kbd>` : nothing}
          </button>`,
      )}
    </div>`;
  }

  private renderSelected(ro: string | null): unknown {
    const s = this.session;
    return html`${this.renderDetails()}
      ${s && s.selection.size > 0 && this.host
        ? html`<button data-testid="set-class" ?disabled=${!!ro} title="Give the selected objects the current class (C); Ctrl+Z undoes" @click=${() => this.host && this.host.setMessage('annotate', setClassOfSelection(this.host.context))}>
            Set class → ${this.currentClass ?? '(none)'}<kbd>C</kbd>
          </button>`
        : nothing}
      <div class="grid">
        <button data-testid="open-history" title="Versions of the selected object, or of the mask under the selected region or the view: who, when, preview, restore" @click=${() => this.showView('history', s && s.selection.size === 1 ? 'object' : 'mask')}>History</button>
        <button data-testid="open-measurements" title="Area, perimeter, objects and mask area per class in each region; CSV" @click=${() => this.showView('measurements')}>Measurements</button>
      </div>`;
  }

  private renderFiles(ro: string | null): unknown {
    const s = this.session;
    return html`<select id="import-format" aria-label="Import format" ?disabled=${!!ro}>
        <option value="qupath-geojson">QuPath GeoJSON</option>
        <option value="asap-xml">ASAP XML</option>
        <option value="imagescope-xml">ImageScope XML</option>
        <option value="histomicstk-json">HistomicsTK JSON</option>
      </select>
      <input type="file" data-testid="import-file" ?disabled=${!!ro} title=${ro ?? 'Import annotations from a file'} @change=${(e: Event) => void this.importFile(e)} />
      ${this.importStatus ? html`<div data-testid="import-status">${this.importStatus}</div>` : nothing}
      ${s
        ? html`<div class="grid">
            <a href=${s.api.exportUrl('qupath-geojson')} download>QuPath GeoJSON</a>
            <a href=${s.api.exportUrl('asap-xml')} download>ASAP XML</a>
          </div>`
        : nothing}`;
  }
}

if (!customElements.get('wsi-annotation-panel')) customElements.define('wsi-annotation-panel', WsiAnnotationPanel);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-annotation-panel': WsiAnnotationPanel;
  }
}
