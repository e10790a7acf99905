/**
 * <wsi-layers-table>: the Layers table of the panel's Display section — one
 * row per class of the palette with an eye (shown or hidden), a lock (the
 * tools refuse to edit or paint it) and an opacity slider, for the class's
 * objects and painted pixels alike. It edits the session's ClassLayers
 * (src/state/class-layers.ts), which the layers and the tools follow.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { AnnotationSession } from '../session/annotation-session.js';
import { ObserveController } from './observe-controller.js';
import { panelStyles } from './panel-styles.js';

export class WsiLayersTable extends LitElement {
  static override properties = {
    session: { attribute: false },
  };

  declare session: AnnotationSession | null;

  constructor() {
    super();
    this.session = null;
    new ObserveController(this, () => this.session?.layers, (l, changed) => [l.onChange(changed)]);
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
      </tbody>
    </table>`;
  }
}

if (!customElements.get('wsi-layers-table')) customElements.define('wsi-layers-table', WsiLayersTable);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-layers-table': WsiLayersTable;
  }
}
