/**
 * <wsi-slide-info>: what a pathologist checks before trusting a slide —
 * scanner vendor, objective, MPP, size, pyramid levels, compression,
 * channels and the reader's warnings — from GET /api/slides/{id} (issue 11:
 * slide metadata). The label and macro are only counted, and only for
 * those the server lists them to: they may carry PHI, and no route serves
 * their pixels to the viewer. The site and stain a manager sets follow
 * (<wsi-slide-descriptors>, issue 15).
 */
import { LitElement, css, html, nothing } from 'lit';
import { getSlide, type SlideDetail } from '../services/slide-api.js';
import { detailListStyles } from './detail-list-styles.js';
import { LatestLoad } from './latest-load.js';
import './slide-descriptors.js';

function px(n: number): string {
  return n.toLocaleString('en-US');
}

export class WsiSlideInfo extends LitElement {
  static override properties = {
    server: { type: String },
    slide: { type: String },
    info: { state: true },
    problem: { state: true },
  };

  declare server: string;
  declare slide: string;
  declare info: SlideDetail | null;
  declare problem: string | null;
  private readonly loads = new LatestLoad(this);

  constructor() {
    super();
    this.server = '';
    this.slide = '';
    this.info = null;
    this.problem = null;
  }

  static override styles = [
    detailListStyles,
    css`
    :host {
      display: block;
      font-size: 12px;
      color: #333;
    }
    table {
      border-collapse: collapse;
      margin: 4px 0;
      font-variant-numeric: tabular-nums;
    }
    th,
    td {
      padding: 1px 6px 1px 0;
      text-align: right;
    }
    th {
      color: #666;
      font-weight: 500;
    }
    .warn {
      color: #8a4b00;
    }
    .swatch {
      display: inline-block;
      width: 9px;
      height: 9px;
      margin-right: 4px;
      border: 1px solid #0003;
      vertical-align: -1px;
    }
  `,
  ];

  protected override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('slide') || changed.has('server')) void this.load();
  }

  private async load(): Promise<void> {
    this.loads.cancel();
    this.info = null;
    this.problem = null;
    if (!this.slide) return;
    const got = await this.loads.run((signal) => getSlide(this.server, this.slide, signal));
    if (got?.ok) this.info = got.value;
    else if (got) this.problem = `The slide's details could not be read: ${got.error.message}`;
  }

  protected override render(): unknown {
    if (this.problem) return html`<div class="warn" role="alert">${this.problem}</div>`;
    const s = this.info;
    if (!s) return html`<div>Reading…</div>`;
    if (s.status !== 'ok') return html`<div class="warn">${s.error?.code}: ${s.error?.message}</div>`;
    const rows: Array<[string, unknown]> = [
      ['Scanner', s.vendor ?? 'unknown'],
      ['Objective', s.objectivePower ? `${s.objectivePower}×` : 'not recorded'],
      ['Pixel size', s.mpp ? `${s.mpp.toFixed(4)} µm/px` : 'not recorded (zoom factors, no µm)'],
      ['Size', s.width && s.height ? `${px(s.width)} × ${px(s.height)} px` : '?'],
      ['Compression', s.compression ?? '?'],
      ['Tiles', s.tileSize ? `${s.tileSize} px (DZI)` : '?'],
      ['Channels', s.channels?.length ? html`${s.channels.map((c) => html`<div><span class="swatch" style="background:rgb(${c.color.join(',')})"></span>${c.name}${c.biomarker ? ` (${c.biomarker})` : ''}</div>`)}` : 'RGB'],
    ];
    const associated = s.associatedImages ?? [];
    if (associated.length > 0) rows.push(['Associated', associated.map((a) => `${a.kind} ${px(a.width)} × ${px(a.height)}`).join(', ')]);
    return html`<dl data-testid="slide-info">
        ${rows.map(([k, v]) => html`<dt>${k}</dt><dd data-field=${k}>${v}</dd>`)}
      </dl>
      ${s.levelDimensions?.length
        ? html`<table data-testid="slide-levels">
            <tr><th>Level</th><th>Width</th><th>Height</th><th>Down</th></tr>
            ${s.levelDimensions.map((l, i) => html`<tr><td>${i}</td><td>${px(l.width)}</td><td>${px(l.height)}</td><td>${l.downsample.toFixed(l.downsample % 1 ? 2 : 0)}</td></tr>`)}
          </table>`
        : nothing}
      ${(s.warnings ?? []).map((w) => html`<div class="warn" data-testid="slide-warning">${w}</div>`)}
      <wsi-slide-descriptors .server=${this.server} .slide=${this.slide} .canManage=${s.access?.actions.includes('manage') ?? false}></wsi-slide-descriptors>`;
  }
}

if (!customElements.get('wsi-slide-info')) customElements.define('wsi-slide-info', WsiSlideInfo);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-slide-info': WsiSlideInfo;
  }
}
