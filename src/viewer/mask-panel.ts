/**
 * <wsi-mask-panel>: the painting tools (from the tool registry) and the
 * mask display — brush size (in µm at the current zoom), "inside ROIs
 * only", fill the selected ROIs, all ROIs → mask (previewed and confirmed:
 * it says which painted pixels it would overwrite, and by default leaves
 * them alone; one undo step); why
 * painting is off; the mask's save status and conflicts; exports. It
 * re-renders when the tools, the painting choices or the mask's save state
 * change (ObserveController), and with the zoom (the brush in µm).
 */
import { LitElement, css, html, nothing } from 'lit';
import { formatArea, formatLength } from '../core/scale.js';
import { maskClassId } from '../core/annotation.js';
import type { RasterizeAnswer } from '../services/mask-api.js';
import type { MaskSession } from '../session/mask-session.js';
import { fillSelectedRois } from '../tools/paint-actions.js';
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
    mpp: { attribute: false },
    zoom: { attribute: false },
    roiPreview: { state: true },
  };

  declare host: ToolHost | null;
  declare mask: MaskSession | null;
  declare mpp: number | null;
  /** Screen px per image px: the brush's size in µm depends on it. */
  declare zoom: number;
  /** "All ROIs → mask" waiting for confirmation: the server's dry run, and the choice to leave painted pixels alone. */
  declare roiPreview: { answer: RasterizeAnswer; keepPainted: boolean } | null;
  private roiBusy = false;

  constructor() {
    super();
    this.host = null;
    this.mask = null;
    this.mpp = null;
    this.zoom = 1;
    this.roiPreview = null;
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

  /** Asks the server what painting every ROI would change, then shows it for confirmation. */
  private async previewRois(mask: MaskSession, say: (m: string | null) => void): Promise<void> {
    if (this.roiBusy) return;
    this.roiBusy = true;
    say('Working out what "All ROIs → mask" would change…');
    try {
      this.roiPreview = { answer: await mask.previewRois(), keepPainted: true };
      say(null);
    } catch (e) {
      say((e as Error).message);
    } finally {
      this.roiBusy = false;
    }
  }

  private async confirmRois(mask: MaskSession, say: (m: string | null) => void): Promise<void> {
    const p = this.roiPreview;
    if (!p || this.roiBusy) return;
    this.roiBusy = true;
    this.roiPreview = null;
    say('Painting the regions into the mask…');
    try {
      say(await mask.rasterizeRois(p.keepPainted));
    } catch (e) {
      say((e as Error).message);
    } finally {
      this.roiBusy = false;
    }
  }

  /** Pixels as the panel states them: the count, and the area when the slide has MPP. */
  private pixelsText(n: number): string {
    return `${n.toLocaleString()} px${this.mpp ? ` (${formatArea(n * this.mpp * this.mpp)})` : ''}`;
  }

  private renderRoiConfirm(mask: MaskSession, host: ToolHost, say: (m: string | null) => void): unknown {
    const p = this.roiPreview;
    if (!p) return nothing;
    const a = p.answer;
    const names = new Map(host.context.palette().map((c) => [maskClassId(c), c.name] as const));
    const over = Object.entries(a.overwrite ?? {}).map(([id, n]) => [names.get(Number(id)) ?? `class ${id}`, n] as const);
    const overPx = a.overwritePixels ?? 0;
    const nothingToDo = (a.newPixels ?? 0) === 0 && (p.keepPainted || overPx === 0);
    return html`<div class="conflict" role="alertdialog" aria-label="All ROIs to mask" data-testid="roi-confirm">
      <strong>Paint ${a.painted ?? 0} region${a.painted === 1 ? '' : 's'} into the mask?</strong>
      <div>Each with its own class, largest first. ${this.pixelsText(a.newPixels ?? 0)} not painted yet get a class.</div>
      ${overPx > 0
        ? html`<div data-testid="roi-overwrite">
              ${this.pixelsText(overPx)} already painted inside the regions (${a.overwriteTiles ?? 0} tile${a.overwriteTiles === 1 ? '' : 's'}) have another class:
              ${over.map(([name, n], i) => html`${i ? ', ' : ''}<b>${name}</b> ${n.toLocaleString()} px`)}.
            </div>
            <label><input type="checkbox" data-testid="roi-keep-painted" .checked=${p.keepPainted} @change=${(e: Event) => (this.roiPreview = { answer: a, keepPainted: (e.target as HTMLInputElement).checked })} /> Leave painted pixels alone</label>
            ${p.keepPainted ? nothing : html`<div class="status bad">They will be overwritten (Ctrl+Z undoes it).</div>`}`
        : html`<div data-testid="roi-overwrite">No painted pixel inside the regions would change.</div>`}
      ${(a.skipped?.length ?? 0) > 0 ? html`<div>${a.skipped?.length} object(s) skipped (no class, or no area).</div>` : nothing}
      <div class="grid">
        <button data-testid="roi-go" ?disabled=${nothingToDo} @click=${() => void this.confirmRois(mask, say)}>${nothingToDo ? 'Nothing to paint' : 'Paint'}</button>
        <button data-testid="roi-cancel" @click=${() => (this.roiPreview = null)}>Cancel</button>
      </div>
    </div>`;
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
    return html`
      <div class="grid">
        ${toolButtons(host, 'paint')}
        <button data-testid="fill-rois" ?disabled=${!!host.readOnly} title="Fill the selected regions with the current class (G)" @click=${() => void fillSelectedRois(host.context).then(say)}>Fill ROIs<kbd>G</kbd></button>
        <button data-testid="paint-all-rois" ?disabled=${!!host.readOnly} title="Paint every region of interest into the mask with its own class, largest first; it shows what would change and asks first (undoable)" @click=${() =>
          void this.previewRois(mask, say)}>All ROIs → mask</button>
      </div>
      ${this.renderRoiConfirm(mask, host, say)}
      <div class="row">
        <button data-testid="brush-smaller" title="Smaller brush ([ or Shift+wheel)" @click=${() => paint.stepBrush(false)}>−</button>
        <span data-testid="brush-size" title="Brush diameter at this zoom; it keeps its size on screen as you zoom">Brush ${this.brushText(paint.brushPx)}</span>
        <button data-testid="brush-larger" title="Larger brush (] or Shift+wheel)" @click=${() => paint.stepBrush(true)}>+</button>
      </div>
      <label><input type="checkbox" data-testid="inside-rois" .checked=${paint.insideRoisOnly} @change=${(e: Event) => paint.setInsideRoisOnly((e.target as HTMLInputElement).checked)} /> Paint inside ROIs only <kbd>i</kbd></label>
      ${toolStatus(host, 'paint')}
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
