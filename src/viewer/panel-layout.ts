/**
 * The side panel's layout choices (issue 11): which sections are collapsed
 * and how wide the panel is, remembered in the browser (localStorage, like
 * the other view choices) so a reload keeps them; and the drag handle that
 * resizes the panel. The annotation panel renders its sections with
 * `section()` and puts the handle on its left edge.
 */
import { html, nothing, type TemplateResult } from 'lit';
import { browserStorage } from './browser-storage.js';

export const PANEL_MIN_WIDTH = 220;
export const PANEL_MAX_WIDTH = 640;
export const PANEL_DEFAULT_WIDTH = 250;
const KEY = 'wsi-annotate.panel';

interface Saved {
  collapsed: string[];
  width: number;
}

export function clampWidth(w: number): number {
  return Number.isFinite(w) ? Math.round(Math.max(PANEL_MIN_WIDTH, Math.min(PANEL_MAX_WIDTH, w))) : PANEL_DEFAULT_WIDTH;
}

export class PanelLayout {
  private readonly collapsed = new Set<string>();
  width = PANEL_DEFAULT_WIDTH;

  constructor(private readonly changed: () => void) {
    try {
      const raw = browserStorage()?.getItem(KEY);
      const saved = raw ? (JSON.parse(raw) as Partial<Saved>) : null;
      if (saved && Array.isArray(saved.collapsed)) for (const s of saved.collapsed) if (typeof s === 'string') this.collapsed.add(s);
      if (saved && typeof saved.width === 'number') this.width = clampWidth(saved.width);
    } catch {
      // a damaged entry: every section open, the default width
    }
  }

  private save(): void {
    try {
      browserStorage()?.setItem(KEY, JSON.stringify({ collapsed: [...this.collapsed], width: this.width } satisfies Saved));
    } catch {
      // refused: the layout lasts for this page
    }
  }

  isOpen(id: string): boolean {
    return !this.collapsed.has(id);
  }

  toggle(id: string): void {
    if (this.collapsed.has(id)) this.collapsed.delete(id);
    else this.collapsed.add(id);
    this.save();
    this.changed();
  }

  setWidth(w: number, persist: boolean): void {
    this.width = clampWidth(w);
    if (persist) this.save();
    this.changed();
  }

  /** A collapsible section: a heading button (aria-expanded) and, when open, its content. */
  section(id: string, title: string, content: () => unknown, extra: unknown = nothing): TemplateResult {
    const open = this.isOpen(id);
    return html`<section class="sect" data-section=${id}>
      <h3>
        <button class="sect-head" data-testid=${`section-${id}`} aria-expanded=${open ? 'true' : 'false'} title=${open ? `Collapse ${title}` : `Expand ${title}`} @click=${() => this.toggle(id)}>
          <span class="chev">${open ? '▾' : '▸'}</span>${title}
        </button>
        ${extra}
      </h3>
      ${open ? html`<div class="sect-body">${content()}</div>` : nothing}
    </section>`;
  }

  /** The drag handle on the panel's left edge: dragging left widens the panel; the width is kept on release. */
  handle(): TemplateResult {
    const down = (e: PointerEvent): void => {
      const el = e.currentTarget as HTMLElement;
      el.setPointerCapture(e.pointerId);
      const x0 = e.clientX;
      const w0 = this.width;
      const move = (m: PointerEvent): void => this.setWidth(w0 + (x0 - m.clientX), false);
      const up = (u: PointerEvent): void => {
        el.removeEventListener('pointermove', move);
        el.removeEventListener('pointerup', up);
        el.removeEventListener('pointercancel', up);
        this.setWidth(w0 + (x0 - u.clientX), true);
      };
      el.addEventListener('pointermove', move);
      el.addEventListener('pointerup', up);
      el.addEventListener('pointercancel', up);
      e.preventDefault();
    };
    const key = (e: KeyboardEvent): void => {
      if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
      e.preventDefault();
      e.stopPropagation();
      this.setWidth(this.width + (e.key === 'ArrowLeft' ? 20 : -20), true);
    };
    return html`<div
      class="resize"
      role="separator"
      aria-orientation="vertical"
      aria-label="Panel width"
      aria-valuemin=${PANEL_MIN_WIDTH}
      aria-valuemax=${PANEL_MAX_WIDTH}
      aria-valuenow=${this.width}
      tabindex="0"
      title="Drag to resize the panel (or ← → when focused)"
      data-testid="panel-resize"
      @pointerdown=${down}
      @keydown=${key}
    ></div>`;
  }
}
