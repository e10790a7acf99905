/**
 * <wsi-layers-table>: the Layers table of the panel's Display section — one
 * row per class of the palette with an eye (shown or hidden), a lock (the
 * tools refuse to edit or paint it) and an opacity slider, for the class's
 * objects and painted pixels alike. It edits the session's ClassLayers
 * (src/state/class-layers.ts), which the layers and the tools follow.
 * Under it, a reader row: another reader of the slide whose work this user
 * may see (the server's rule), shown beside one's own with an eye and an
 * opacity, and always read-only (src/state/compared-reader.ts); choosing
 * one asks the viewer (`wsi-compare-reader`) to load their mask.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { AnnotationSession } from '../session/annotation-session.js';
import type { ReaderChoice } from '../state/compared-reader.js';
import { ObserveController } from './observe-controller.js';
import { panelStyles } from './panel-styles.js';

export class WsiLayersTable extends LitElement {
  static override properties = {
    session: { attribute: false },
    readers: { state: true },
  };

  declare session: AnnotationSession | null;
  /** The other readers this user may compare with (null: not read yet). */
  declare readers: ReaderChoice[] | null;

  constructor() {
    super();
    this.session = null;
    this.readers = null;
    new ObserveController(this, () => this.session?.layers, (l, changed) => [l.onChange(changed)]);
    new ObserveController(this, () => this.session?.compared, (c, changed) => [c.onChange(changed)]);
    // the authors are known once the objects have loaded
    new ObserveController(this, () => this.session, (s) => [s.onProgress((p) => p.done && void this.readReaders())]);
  }

  protected override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('session')) {
      this.readers = null;
      void this.readReaders();
    }
  }

  /** Reads whom this user may compare with (again: after the objects have loaded, or a submit unblinded them). */
  async readReaders(): Promise<void> {
    const s = this.session;
    if (!s) return;
    const readers = await s.otherReaders();
    if (this.session === s) this.readers = readers;
  }

  private choose(id: string): void {
    const reader = this.readers?.find((r) => r.id === id) ?? null;
    this.dispatchEvent(new CustomEvent('wsi-compare-reader', { detail: { reader }, bubbles: true, composed: true }));
  }

  static override styles = [
    panelStyles,
    css`
      :host {
        display: block;
      }
      table {
        width: 100%;
        border-collapse: collapse;
      }
      th {
        font-size: 11px;
        font-weight: normal;
        color: #777;
        text-align: left;
      }
      td {
        padding: 1px 2px;
      }
      td.name {
        overflow: hidden;
        text-overflow: ellipsis;
        white-space: nowrap;
        max-width: 90px;
      }
      tr.hidden td.name {
        color: #999;
      }
      input[type='range'] {
        width: 70px;
      }
      label.toggle {
        display: inline;
        margin: 0;
        cursor: pointer;
      }
      label.toggle input {
        margin: 0 1px 0 0;
      }
      tr.reader td {
        border-top: 1px solid #d0d0d5;
        padding-top: 3px;
      }
      tr.reader select {
        max-width: 110px;
        font-size: 12px;
      }
    `,
  ];

  protected override render(): unknown {
    const s = this.session;
    if (!s) return nothing;
    const layers = s.layers;
    const ro = s.readOnly;
    return html`<table data-testid="layers-table" aria-label="Layers per class">
      <thead>
        <tr><th>Class</th><th title="Shown">Show</th><th title="Locked: the tools do not edit or paint it">Lock</th><th>Opacity</th></tr>
      </thead>
      <tbody>
        ${s.palette.map((c) => {
          const l = layers.get(c.name);
          return html`<tr class=${l.visible ? '' : 'hidden'}>
            <td class="name" title=${c.name}><span class="swatch" style=${`background:${c.color}`}></span>${c.name}</td>
            <td>
              <label class="toggle" title=${`${l.visible ? 'Hide' : 'Show'} ${c.name} (objects and painted pixels)`}
                ><input type="checkbox" data-testid=${`layer-visible-${c.name}`} aria-label=${`Show ${c.name}`} .checked=${l.visible} @change=${(e: Event) => layers.set(c.name, { visible: (e.target as HTMLInputElement).checked })} /></label
              >
            </td>
            <td>
              <label class="toggle" title=${ro ?? `${l.locked ? 'Unlock' : 'Lock'} ${c.name}: locked, the tools do not edit or paint it`}
                ><input type="checkbox" data-testid=${`layer-lock-${c.name}`} aria-label=${`Lock ${c.name}`} ?disabled=${ro !== null} .checked=${l.locked} @change=${(e: Event) => layers.set(c.name, { locked: (e.target as HTMLInputElement).checked })} />${l.locked ? '🔒' : ''}</label
              >
            </td>
            <td>
              <input type="range" min="0" max="1" step="0.05" data-testid=${`layer-opacity-${c.name}`} aria-label=${`${c.name} opacity`} .value=${String(l.opacity)} @input=${(e: Event) => layers.set(c.name, { opacity: Number((e.target as HTMLInputElement).value) })} />
            </td>
          </tr>`;
        })}
        ${this.renderReader(s)}
      </tbody>
    </table>`;
  }

  /** The reader row: whom to compare with, their eye and opacity; the lock shows it read-only. */
  private renderReader(s: AnnotationSession): unknown {
    const c = s.compared;
    const chosen = c.reader;
    const readers = this.readers ?? [];
    const ro = 'Read-only: another reader\'s layer is never edited, painted or picked for editing';
    return html`<tr class="reader">
      <td class="name">
        <select
          data-testid="reader-choose"
          aria-label="Compare with another reader (read-only)"
          title=${readers.length ? 'Show another reader\'s objects and painted mask beside yours, read-only' : 'No other reader\'s work on this slide that you may see (in a blind project: once your reading is submitted)'}
          @focus=${() => void this.readReaders()}
          @change=${(e: Event) => this.choose((e.target as HTMLSelectElement).value)}
        >
          <option value="" ?selected=${!chosen}>Other reader…</option>
          ${readers.map((r) => html`<option value=${r.id} ?selected=${chosen?.id === r.id}>${r.label}</option>`)}
        </select>
      </td>
      <td>
        ${chosen
          ? html`<label class="toggle" title=${`${c.visible ? 'Hide' : 'Show'} ${chosen.label}'s objects and painted mask`}
              ><input type="checkbox" data-testid="reader-visible" aria-label=${`Show ${chosen.label}`} .checked=${c.visible} @change=${(e: Event) => c.set({ visible: (e.target as HTMLInputElement).checked })}
            /></label>`
          : nothing}
      </td>
      <td>${chosen ? html`<label class="toggle" title=${ro}><input type="checkbox" data-testid="reader-lock" aria-label=${`${chosen.label} is read-only`} checked disabled />🔒</label>` : nothing}</td>
      <td>
        ${chosen
          ? html`<input type="range" min="0" max="1" step="0.05" data-testid="reader-opacity" aria-label=${`${chosen.label} opacity`} .value=${String(c.opacity)} @input=${(e: Event) => c.set({ opacity: Number((e.target as HTMLInputElement).value) })} />`
          : nothing}
      </td>
    </tr>`;
  }
}

if (!customElements.get('wsi-layers-table')) customElements.define('wsi-layers-table', WsiLayersTable);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-layers-table': WsiLayersTable;
  }
}
