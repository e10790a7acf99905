/**
 * <wsi-mask-panel>: the painting tools (from the tool registry) and the
 * mask display — brush size (in µm at the current zoom), "inside ROIs
 * only", fill the selected ROIs, all ROIs → mask; opacity and outline; why
 * painting is off; the mask's save status and conflicts; exports. It
 * re-renders when the tools, the painting choices or the mask's save state
 * change (ObserveController), and with the zoom (the brush in µm).
 */
import { LitElement, css, html, nothing } from 'lit';
import { formatLength } from '../core/scale.js';
import type { MaskSession } from '../session/mask-session.js';
import { fillSelectedRois } from '../tools/paint-actions.js';
import type { MaskLayer } from './mask-layer.js';
import { ObserveController } from './observe-controller.js';
import { panelStyles } from './panel-styles.js';
import { syncStatusClass, syncStatusText } from './sync-status.js';
import { toolButtons, toolStatus } from './tool-buttons.js';
import type { ToolHost } from './tool-host.js';

const MASK_STATUS = {
  saved: 'Mask saved',
  saving: (n: number) => `Saving mask (${n})…`,
  edit: 'mask edit',
  conflict: 'Mask conflict',
  failed: 'Mask not saved',
};

export class WsiMaskPanel extends LitElement {
  static override properties = {
    host: { attribute: false },
    mask: { attribute: false },
    maskLayer: { attribute: false },
    mpp: { attribute: false },
    zoom: { attribute: false },
  };

  declare host: ToolHost | null;
  declare mask: MaskSession | null;
  declare maskLayer: MaskLayer | null;
  declare mpp: number | null;
  /** Screen px per image px: the brush's size in µm depends on it. */
  declare zoom: number;

  constructor() {
    super();
    this.host = null;
    this.mask = null;
    this.maskLayer = null;
    this.mpp = null;
    this.zoom = 1;
    new ObserveController(this, () => this.mask, (m, changed) => [m.sync.onChange(changed)]);
    new ObserveController(this, () => this.host, (h, changed) => [h.onChange(changed)]);
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

  /** The brush diameter at the current zoom: µm, or image pixels without MPP. */
  private brushText(px: number): string {
    const img = px / (this.zoom || 1);
    return this.mpp ? formatLength(img * this.mpp) : `${Math.round(img)} px`;
  }

  private renderConflict(mask: MaskSession): unknown {
    const c = mask.sync.snapshot.conflict;
    if (!c) return nothing;
    return html`<div class="conflict" role="alertdialog" aria-label="Mask conflict" data-testid="mask-conflict">
      <strong>This part of the mask changed elsewhere</strong>
      <div>Tile ${c.tx}, ${c.ty} is at version ${c.current} on the server (another tab or device). ${c.message}</div>
      <div class="grid">
        <button data-testid="mask-keep-mine" @click=${() => void mask.sync.resolve('mine')}>Keep mine</button>
        <button data-testid="mask-take-theirs" @click=${() => void mask.sync.resolve('theirs')}>Use theirs</button>
      </div>
    </div>`;
  }

  protected override render(): unknown {
    const host = this.host;
    const mask = this.mask;
    if (!host || !mask) return nothing;
    const paint = host.paint;
    const say = (m: string | null): void => host.setMessage('paint', m);
    const st = mask.sync.snapshot;
    const layer = this.maskLayer;
    return html`
      <h3>Paint</h3>
      <div class="grid">
        ${toolButtons(host, 'paint')}
        <button data-testid="fill-rois" title="Fill the selected regions with the current class (G)" @click=${() => void fillSelectedRois(host.context).then(say)}>Fill ROIs<kbd>G</kbd></button>
        <button data-testid="paint-all-rois" title="Paint every region of interest into the mask with its own class, largest first (on the server; recorded in the history)" @click=${() =>
          void mask.rasterizeRois().then(say, (e: Error) => say(e.message))}>All ROIs → mask</button>
      </div>
      <div class="row">
        <button data-testid="brush-smaller" title="Smaller brush ([ or Shift+wheel)" @click=${() => paint.stepBrush(false)}>−</button>
        <span data-testid="brush-size" title="Brush diameter at this zoom; it keeps its size on screen as you zoom">Brush ${this.brushText(paint.brushPx)}</span>
        <button data-testid="brush-larger" title="Larger brush (] or Shift+wheel)" @click=${() => paint.stepBrush(true)}>+</button>
      </div>
      <label><input type="checkbox" data-testid="inside-rois" .checked=${paint.insideRoisOnly} @change=${(e: Event) => paint.setInsideRoisOnly((e.target as HTMLInputElement).checked)} /> Paint inside ROIs only <kbd>i</kbd></label>
      ${toolStatus(host, 'paint')}
      ${layer
        ? html`<div class="row">
              <span>Mask</span>
              <input type="range" min="0" max="1" step="0.05" data-testid="mask-opacity" .value=${String(layer.opacity)} @input=${(e: Event) => (layer.opacity = Number((e.target as HTMLInputElement).value))} />
            </div>
            <label><input type="checkbox" data-testid="mask-outline" .checked=${layer.outline} @change=${(e: Event) => (layer.outline = (e.target as HTMLInputElement).checked)} /> Outlines only</label>`
        : nothing}
      <div class="status ${syncStatusClass(st)}" data-testid="mask-sync-status" data-status=${st.status} data-queued=${st.queued} role="status">${syncStatusText(st, MASK_STATUS)}</div>
      ${this.renderConflict(mask)}
      <div>
        Export: <a href=${mask.api.exportUrl()} download data-testid="mask-export">mask TIFF</a> ·
        <a href=${mask.api.summaryUrl()} target="_blank" rel="noopener">classes and areas</a>
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
