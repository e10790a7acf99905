/**
 * <wsi-palette-editor>: a project manager's editor of the project's class
 * palette (names, colours, hotkeys, order). It reads and replaces the
 * palette through /api/projects/{id}/classes; the server gives mask ids
 * and checks everything (duplicate names or hotkeys, colours, 255 classes),
 * and its refusal is shown as it says it; a hotkey that a tool already has
 * is refused here, before sending. A class keeps its mask id by its
 * name, so renaming is said to make a new class. Fires `wsi-palette-saved`
 * with the new palette.
 */
import { LitElement, css, html, nothing } from 'lit';
import type { AnnotationClass } from '../core/annotation.js';
import { authHeaders, changeHeaders } from '../services/http.js';
import { toolForKey } from '../tools/registry.js';

type Row = AnnotationClass & { id?: number | null };

export class WsiPaletteEditor extends LitElement {
  static override properties = {
    server: { type: String },
    project: { type: String },
    projectName: { type: String },
    open: { type: Boolean, reflect: true },
    rows: { state: true },
    problem: { state: true },
    busy: { state: true },
  };

  declare server: string;
  declare project: string;
  declare projectName: string;
  declare open: boolean;
  declare rows: Row[];
  declare problem: string | null;
  declare busy: boolean;

  constructor() {
    super();
    this.server = '';
    this.project = '';
    this.projectName = '';
    this.open = false;
    this.rows = [];
    this.problem = null;
    this.busy = false;
  }

  static override styles = css`
    :host {
      display: none;
    }
    :host([open]) {
      display: block;
      position: fixed;
      inset: 40px auto auto 310px;
      z-index: 20;
      width: min(520px, calc(100vw - 330px));
      max-height: calc(100vh - 80px);
      overflow: auto;
      background: #fff;
      border: 1px solid #c9c9d0;
      border-radius: 6px;
      box-shadow: 0 8px 30px rgb(0 0 0 / 25%);
      padding: 14px 16px;
      font: 14px/1.35 system-ui, sans-serif;
      color: #1d1d1f;
    }
    h2 {
      font-size: 16px;
      margin: 0 0 4px;
    }
    .hint {
      color: #555;
      font-size: 12px;
      margin: 0 0 10px;
    }
    .row {
      display: grid;
      grid-template-columns: 1fr 44px 48px auto auto auto;
      gap: 6px;
      align-items: center;
      margin-bottom: 4px;
    }
    input[type='text'] {
      font: inherit;
      padding: 3px 5px;
    }
    .id {
      color: #777;
      font-size: 11px;
    }
    .problem {
      color: #b42318;
      margin: 8px 0;
    }
    .actions {
      display: flex;
      gap: 8px;
      justify-content: flex-end;
      margin-top: 10px;
    }
  `;

  /** Opens the editor on the project's palette as the server has it. */
  async show(): Promise<void> {
    this.problem = null;
    this.open = true;
    const url = `${this.server}/api/projects/${encodeURIComponent(this.project)}/classes`;
    try {
      const res = await fetch(url, { headers: { Accept: 'application/json', ...authHeaders(url) } });
      const body = (await res.json()) as { classes?: Row[]; message?: string };
      if (!res.ok) throw new Error(body.message ?? `the server answered ${res.status}`);
      this.rows = (body.classes ?? []).map((c) => ({ ...c }));
    } catch (err) {
      this.problem = `The palette could not be read: ${(err as Error).message}`;
    }
  }

  private edit(i: number, patch: Partial<Row>): void {
    this.rows = this.rows.map((r, j) => (j === i ? { ...r, ...patch, ...(patch.name !== undefined && patch.name !== r.name ? { id: null } : {}) } : r));
  }

  private move(i: number, by: number): void {
    const j = i + by;
    if (j < 0 || j >= this.rows.length) return;
    const next = [...this.rows];
    [next[i], next[j]] = [next[j] as Row, next[i] as Row];
    this.rows = next;
  }

  /** A hotkey a tool already has would never reach the class (the tool's key wins): said before saving. */
  private hotkeyClash(): string | null {
    for (const r of this.rows) {
      const tool = r.hotkey ? toolForKey(r.hotkey) : undefined;
      if (tool) return `The hotkey "${r.hotkey}" of ${r.name || 'a new class'} is the ${tool.label} tool's key; choose another.`;
    }
    return null;
  }

  private async save(): Promise<void> {
    this.problem = this.hotkeyClash();
    if (this.problem) return;
    this.busy = true;
    const url = `${this.server}/api/projects/${encodeURIComponent(this.project)}/classes`;
    try {
      const classes = this.rows.map((r) => ({ name: r.name, color: r.color, hotkey: r.hotkey || null, ...(r.id ? { id: r.id } : {}) }));
      const res = await fetch(url, {
        method: 'PUT',
        headers: changeHeaders({ ...authHeaders(url), 'Content-Type': 'application/json', Accept: 'application/json' }),
        body: JSON.stringify({ classes }),
      });
      const body = (await res.json().catch(() => ({}))) as { classes?: Row[]; message?: string };
      if (!res.ok) {
        this.problem = body.message ?? `The server answered ${res.status}.`;
        return;
      }
      this.rows = body.classes ?? this.rows;
      this.open = false;
      this.dispatchEvent(new CustomEvent('wsi-palette-saved', { detail: { project: this.project, classes: this.rows }, bubbles: true, composed: true }));
    } catch (err) {
      this.problem = `Not saved: ${(err as Error).message}`;
    } finally {
      this.busy = false;
    }
  }

  protected override render(): unknown {
    if (!this.open) return nothing;
    return html`<div role="dialog" aria-label="Classes of ${this.projectName}" data-testid="palette-editor">
      <h2>Classes of ${this.projectName}</h2>
      <p class="hint">Each class keeps its mask id by its name: a renamed class is a new class, and masks painted with the old one keep saying it.</p>
      ${this.rows.map(
        (r, i) => html`<div class="row">
          <input type="text" aria-label="Name" data-testid="palette-name" .value=${r.name} @change=${(e: Event) => this.edit(i, { name: (e.target as HTMLInputElement).value })} />
          <input type="color" aria-label="Colour" data-testid="palette-color" .value=${r.color} @change=${(e: Event) => this.edit(i, { color: (e.target as HTMLInputElement).value })} />
          <input type="text" aria-label="Hotkey" data-testid="palette-hotkey" maxlength="1" .value=${r.hotkey ?? ''} @change=${(e: Event) => this.edit(i, { hotkey: (e.target as HTMLInputElement).value || null })} />
          <span class="id">${r.id ? `id ${r.id}` : 'new'}</span>
          <span>
            <button title="Up" aria-label="Move up" ?disabled=${i === 0} @click=${() => this.move(i, -1)}>↑</button>
            <button title="Down" aria-label="Move down" ?disabled=${i === this.rows.length - 1} @click=${() => this.move(i, 1)}>↓</button>
          </span>
          <button title="Remove from this palette (masks keep the id)" data-testid="palette-remove" @click=${() => (this.rows = this.rows.filter((_, j) => j !== i))}>Remove</button>
        </div>`,
      )}
      <button data-testid="palette-add" @click=${() => (this.rows = [...this.rows, { name: '', color: '#888888', hotkey: null, id: null }])}>Add a class</button>
      ${this.problem ? html`<div class="problem" role="alert" data-testid="palette-problem">${this.problem}</div>` : nothing}
      <div class="actions">
        <button @click=${() => (this.open = false)}>Cancel</button>
        <button data-testid="palette-save" ?disabled=${this.busy} @click=${() => void this.save()}>Save</button>
      </div>
    </div>`;
  }
}

if (!customElements.get('wsi-palette-editor')) customElements.define('wsi-palette-editor', WsiPaletteEditor);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-palette-editor': WsiPaletteEditor;
  }
}
