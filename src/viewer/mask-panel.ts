/**
 * <wsi-mask-panel>: the painting tools and the mask display — brush,
 * eraser and region fill; brush size (in µm at the current zoom); "inside
 * ROIs only"; fill the selected ROIs; opacity and outline; why painting is
 * off; the mask's save status and conflicts; exports.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { MaskSyncState } from '../services/mask-sync.js';
import type { ToolId } from '../tools/tool.js';
import { stepBrush } from '../tools/paint-tools.js';
import type { AnnotationLayer } from './annotation-layer.js';
import type { PaintController } from './paint-controller.js';
import { panelStyles } from './panel-styles.js';

export const PAINT_TOOL_KEYS: Array<{ id: ToolId; label: string; key: string }> = [
  { id: 'brush', label: 'Brush', key: 'b' },
  { id: 'eraser', label: 'Eraser', key: 'B' },
  { id: 'flood', label: 'Fill region', key: 'q' },
];

export function paintToolForKey(key: string): ToolId | null {
  return PAINT_TOOL_KEYS.find((t) => t.key === key)?.id ?? null;
}

function statusText(s: MaskSyncState): string {
  switch (s.status) {
    case 'saved':
      return 'Mask saved';
    case 'saving':
      return `Saving mask (${s.queued})…`;
    case 'offline':
      return `Offline — ${s.queued} mask edit${s.queued === 1 ? '' : 's'} queued`;
    case 'retrying':
      return `Server error — retrying (${s.queued} queued)`;
    case 'conflict':
      return 'Mask conflict — choose a version';
    default:
      return `Mask not saved — ${s.message ?? 'error'}`;
  }
}

export class WsiMaskPanel extends LitElement {
  static override properties = {
    paint: { attribute: false },
    layer: { attribute: false },
    tool: { attribute: false },
    tick: { attribute: false },
    sync: { state: true },
  };

  declare paint: PaintController | null;
  declare layer: AnnotationLayer | null;
  declare tool: ToolId;
  declare tick: number;
  declare sync: MaskSyncState | null;
  private off: (() => void) | null = null;

  constructor() {
    super();
    this.paint = null;
    this.layer = null;
    this.tool = 'select';
    this.tick = 0;
    this.sync = null;
  }

  static override styles = [
    panelStyles,
    css`
      :host {
        display: block;
      }
      .row {
        display: flex;
        gap: 6px;
        align-items: center;
      }
      input[type='range'] {
        flex: 1;
      }
      a {
        color: #1a56c8;
      }
    `,
  ];

  protected override updated(changed: Map<string, unknown>): void {
    if (changed.has('paint')) {
      this.off?.();
      this.off = this.paint ? this.paint.mask.sync.onChange((s) => (this.sync = s)) : null;
    }
  }

  override disconnectedCallback(): void {
    this.off?.();
    this.off = null;
    super.disconnectedCallback();
  }

  private renderConflict(): unknown {
    const c = this.sync?.conflict;
    if (!c || !this.paint) return nothing;
    const sync = this.paint.mask.sync;
    return html`<div class="conflict" role="alertdialog" aria-label="Mask conflict" data-testid="mask-conflict">
      <strong>This part of the mask changed elsewhere</strong>
      <div>Tile ${c.tx}, ${c.ty} is at version ${c.current} on the server (another tab or device). ${c.message}</div>
      <div class="grid">
        <button data-testid="mask-keep-mine" @click=${() => void sync.resolve('mine')}>Keep mine</button>
        <button data-testid="mask-take-theirs" @click=${() => void sync.resolve('theirs')}>Use theirs</button>
      </div>
    </div>`;
  }

  protected override render(): unknown {
    const p = this.paint;
    if (!p) return nothing;
    const reason = p.disabledReason();
    const st = this.sync;
    const cls = st?.status === 'saved' ? '' : st?.status === 'saving' ? 'warn' : 'bad';
    return html`
      <h3>Paint</h3>
      <div class="grid">
        ${PAINT_TOOL_KEYS.map(
          (t) =>
            html`<button data-testid=${`tool-${t.id}`} aria-pressed=${this.tool === t.id ? 'true' : 'false'} title=${`${t.label} (${t.key})`} @click=${() => this.layer?.setTool(t.id)}>
              ${t.label}<kbd>${t.key}</kbd>
            </button>`,
        )}
        <button data-testid="fill-rois" title="Fill the selected regions with the current class (G)" @click=${() => void p.fillSelected().then((m) => p.notify(m))}>Fill ROIs<kbd>G</kbd></button>
        <button data-testid="paint-all-rois" title="Paint every region of interest into the mask with its own class, largest first (on the server; recorded in the history)" @click=${() =>
          void p.mask.rasterizeRois().then((m) => p.notify(m), (e: Error) => p.notify(e.message))}>All ROIs → mask</button>
      </div>
      <div class="row">
        <button data-testid="brush-smaller" title="Smaller brush ([ or Shift+wheel)" @click=${() => p.setBrushScreenPx(stepBrush(p.brushPx, false))}>−</button>
        <span data-testid="brush-size" title="Brush diameter at this zoom; it keeps its size on screen as you zoom">Brush ${p.brushText()}</span>
        <button data-testid="brush-larger" title="Larger brush (] or Shift+wheel)" @click=${() => p.setBrushScreenPx(stepBrush(p.brushPx, true))}>+</button>
      </div>
      <label><input type="checkbox" data-testid="inside-rois" .checked=${p.insideRoisOnly} @change=${(e: Event) => {
        p.insideRoisOnly = (e.target as HTMLInputElement).checked;
        this.requestUpdate();
      }} /> Paint inside ROIs only <kbd>i</kbd></label>
      ${reason && (this.tool === 'brush' || this.tool === 'eraser' || this.tool === 'flood') ? html`<div class="status warn" data-testid="paint-disabled">${reason}</div>` : nothing}
      ${p.message && p.message !== reason ? html`<div class="status warn" data-testid="paint-message">${p.message}</div>` : nothing}
      <div class="row">
        <span>Mask</span>
        <input type="range" min="0" max="1" step="0.05" data-testid="mask-opacity" .value=${String(p.layer.opacity)} @input=${(e: Event) => (p.layer.opacity = Number((e.target as HTMLInputElement).value))} />
      </div>
      <label><input type="checkbox" data-testid="mask-outline" .checked=${p.layer.outline} @change=${(e: Event) => (p.layer.outline = (e.target as HTMLInputElement).checked)} /> Outlines only</label>
      ${st ? html`<div class="status ${cls}" data-testid="mask-sync-status" data-status=${st.status} data-queued=${st.queued} role="status">${statusText(st)}</div>` : nothing}
      ${this.renderConflict()}
      <div>
        Export: <a href=${p.mask.api.exportUrl()} download data-testid="mask-export">mask TIFF</a> ·
        <a href=${p.mask.api.summaryUrl()} target="_blank" rel="noopener">classes and areas</a>
      </div>
    `;
  }
}

if (!customElements.get('wsi-mask-panel')) customElements.define('wsi-mask-panel', WsiMaskPanel);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-mask-panel': WsiMaskPanel;
  }
}
