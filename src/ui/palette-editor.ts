/**
 * <wsi-palette-editor>: a project manager's editor of the project's class
 * palette (names, colours, hotkeys, order). It reads and replaces the
 * palette through /api/projects/{id}/classes; the server gives mask ids
 * and checks everything (duplicate names or hotkeys, colours, 255 classes),
 * and its refusal is shown as it says it; a hotkey that a tool already has
 * is refused here, before sending. A class keeps its mask id by its
 * name, so renaming is said to make a new class. Each class shows what
 * uses it on the project's slides (GET …/classes/usage), and removing or
 * renaming a class in use asks first, naming its objects, paint and slides.
 * "Merge into…" and "Rename…" carry a class's objects and painted pixels
 * (POST …/classes/relabel): the server's dry run says what would change,
 * the manager confirms, and each object and tile gets a new version.
 * Fires `wsi-palette-saved` with the new palette (and, after a merge or
 * rename, `renamed`: {from, to, merged}).
 */
import { LitElement, css, html, nothing } from 'lit';
import type { AnnotationClass } from '../core/annotation.js';
import type { ClassUse } from '../core/class-usage.js';
import { authHeaders, changeHeaders } from '../services/http.js';
import { toolForKey } from '../tools/registry.js';

type Row = AnnotationClass & { id?: number | null };

/** A merge or rename being prepared: what was asked, and the server's dry run once it answered. */
interface Relabel {
  from: string;
  into?: string;
  rename?: string;
  preview: { objects: number; tiles: number; pixels: number; slides: number; predictionsLeft: number } | null;
  /** The Idempotency-Key of the change, made with the request: a second click (a retry) sends the same one and gets the first answer. */
  key: string;
}

/** A class's use in words: "1,203 objects · 52,000 px painted · 4 slides", or "" when unused. */
export function useText(u: ClassUse | undefined): string {
  if (!u || (u.objects === 0 && u.labelledPx === 0)) return '';
  const parts: string[] = [];
  if (u.objects > 0) parts.push(`${u.objects.toLocaleString('en-US')} object${u.objects === 1 ? '' : 's'}`);
  if (u.labelledPx > 0) parts.push(`${u.labelledPx.toLocaleString('en-US')} px painted`);
  parts.push(`${u.slides} slide${u.slides === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

/** The classes in use that a new palette leaves out (by name: a renamed class leaves its old name). */
export function removedInUse(before: readonly ClassUse[], rows: readonly { name: string }[]): ClassUse[] {
  const kept = new Set(rows.map((r) => r.name.trim().toLowerCase()));
  return before.filter((u) => u.inPalette && !kept.has(u.name.toLowerCase()) && (u.objects > 0 || u.labelledPx > 0));
}

export class WsiPaletteEditor extends LitElement {
  static override properties = {
    server: { type: String },
    project: { type: String },
    projectName: { type: String },
    open: { type: Boolean, reflect: true },
    rows: { state: true },
    usage: { state: true },
    confirming: { state: true },
    problem: { state: true },
    busy: { state: true },
    relabel: { state: true },
  };

  declare server: string;
  declare project: string;
  declare projectName: string;
  declare open: boolean;
  declare rows: Row[];
  /** What uses each class (null: not known, e.g. the server could not say). */
  declare usage: ClassUse[] | null;
  /** Classes in use that the save would remove: shown for confirmation. */
  declare confirming: ClassUse[] | null;
  declare problem: string | null;
  declare busy: boolean;
  /** A merge or rename waiting for its preview or its confirmation. */
  declare relabel: Relabel | null;

  constructor() {
    super();
    this.server = '';
    this.project = '';
    this.projectName = '';
    this.open = false;
    this.rows = [];
    this.usage = null;
    this.confirming = null;
    this.problem = null;
    this.busy = false;
    this.relabel = null;
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
    .use {
      grid-column: 1 / -1;
      margin: -2px 0 4px;
      color: #555;
      font-size: 11px;
    }
    .confirm {
      margin: 10px 0;
      padding: 8px 10px;
      background: #fff4e5;
      border: 1px solid #f0c890;
      border-radius: 4px;
    }
    .confirm ul {
      margin: 4px 0;
      padding-left: 18px;
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
    this.confirming = null;
    this.usage = null;
    const usageUrl = `${url}/usage`;
    try {
      const res = await fetch(usageUrl, { headers: { Accept: 'application/json', ...authHeaders(usageUrl) } });
      if (res.ok) this.usage = ((await res.json()) as { classes: ClassUse[] }).classes;
    } catch {
      // offline: the uses are not shown, and a removal is not checked against them (said in the dialog)
    }
  }

  /** Asks the server what the merge or rename would change (a dry run: nothing is written). */
  private async previewRelabel(r: Relabel): Promise<void> {
    this.relabel = { ...r, preview: null };
    this.problem = null;
    const answer = await this.postRelabel(r, true);
    if (answer && this.relabel?.from === r.from) this.relabel = { ...r, preview: answer as unknown as NonNullable<Relabel['preview']> };
    else if (!answer) this.relabel = null;
  }

  private async postRelabel(r: Relabel, dryRun: boolean): Promise<Record<string, unknown> | null> {
    const url = `${this.server}/api/projects/${encodeURIComponent(this.project)}/classes/relabel${dryRun ? '?dryRun=1' : ''}`;
    this.busy = true;
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: changeHeaders({ ...authHeaders(url), 'Content-Type': 'application/json', Accept: 'application/json', ...(dryRun ? {} : { 'Idempotency-Key': r.key }) }),
        body: JSON.stringify({ from: r.from, ...(r.into !== undefined ? { into: r.into } : { rename: r.rename }) }),
      });
      const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
      if (!res.ok) {
        this.problem = String(body['message'] ?? `The server answered ${res.status}.`);
        return null;
      }
      return body;
    } catch (err) {
      this.problem = `Not done: ${(err as Error).message}`;
      return null;
    } finally {
      this.busy = false;
    }
  }

  /** Runs the confirmed merge or rename, then reads the palette and its uses again. */
  private async runRelabel(): Promise<void> {
    const r = this.relabel;
    if (!r?.preview) return;
    const answer = await this.postRelabel(r, false);
    if (!answer) return;
    this.relabel = null;
    await this.show();
    this.problem = null;
    // the class's layer settings (shown, locked, opacity) follow it to its new name; a merged class's go
    const renamed = { from: r.from, to: r.into ?? r.rename ?? r.from, merged: r.into !== undefined };
    this.dispatchEvent(new CustomEvent('wsi-palette-saved', { detail: { project: this.project, classes: this.rows, renamed }, bubbles: true, composed: true }));
  }

  private renderRelabel(): unknown {
    const r = this.relabel;
    if (!r) return nothing;
    const to = r.into ?? r.rename ?? '';
    const p = r.preview;
    return html`<div class="confirm" role="alertdialog" data-testid="relabel-confirm">
      <strong>${r.into !== undefined ? `Merge ${r.from} into ${to}?` : `Rename ${r.from} to ${to}?`}</strong>
      ${p
        ? html`<div data-testid="relabel-preview">
            ${p.objects.toLocaleString('en-US')} object${p.objects === 1 ? '' : 's'} and ${p.pixels.toLocaleString('en-US')} painted px (${p.tiles} tile${p.tiles === 1 ? '' : 's'}) on ${p.slides} slide${p.slides === 1 ? '' : 's'} become ${to}.
            ${r.into !== undefined ? `${r.from} leaves the palette.` : `${to} takes ${r.from}'s place, colour and hotkey.`} Each changed object and tile gets a new version: the history can restore the old one.
            ${p.predictionsLeft ? html`<br />${p.predictionsLeft} model prediction(s) are read-only and keep ${r.from}.` : nothing}
          </div>`
        : html`<div>Working out what would change…</div>`}
      <div class="actions">
        <button data-testid="relabel-cancel" @click=${() => (this.relabel = null)}>Cancel</button>
        <button data-testid="relabel-go" ?disabled=${!p || this.busy} @click=${() => void this.runRelabel()}>${r.into !== undefined ? 'Merge' : 'Rename'}</button>
      </div>
    </div>`;
  }

  /** The merge and rename controls of a class the server has (a saved row). */
  private renderRowRelabel(r: Row): unknown {
    if (!r.id) return nothing;
    const others = this.rows.filter((o) => o.id && o.name !== r.name);
    return html`<div class="use">
      <select aria-label=${`Merge ${r.name} into`} data-testid="palette-merge" @change=${(e: Event) => {
        const sel = e.target as HTMLSelectElement;
        const into = sel.value;
        sel.value = '';
        if (into) void this.previewRelabel({ from: r.name, into, preview: null, key: crypto.randomUUID() });
      }}>
        <option value="">Merge into…</option>
        ${others.map((o) => html`<option value=${o.name}>${o.name}</option>`)}
      </select>
      <button data-testid="palette-rename" title="Rename the class, keeping its objects and paint" @click=${() => {
        const name = prompt(`New name for ${r.name} (its objects and paint follow):`, r.name)?.trim();
        if (name && name !== r.name) void this.previewRelabel({ from: r.name, rename: name, preview: null, key: crypto.randomUUID() });
      }}>Rename…</button>
    </div>`;
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

  private async save(confirmed = false): Promise<void> {
    this.problem = this.hotkeyClash();
    if (this.problem) return;
    const removed = removedInUse(this.usage ?? [], this.rows);
    if (removed.length > 0 && !confirmed) {
      this.confirming = removed;
      return;
    }
    this.confirming = null;
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
      <p class="hint">Each class keeps its mask id by its name: editing a name here makes a new class, and masks painted with the old one keep saying it. "Rename…" and "Merge into…" carry a class's objects and paint.</p>
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
          ${this.renderRowRelabel(r)}
          ${useText(this.usage?.find((u) => u.name === r.name)) ? html`<div class="use" data-testid="palette-usage">Used by ${useText(this.usage?.find((u) => u.name === r.name))}</div>` : nothing}
        </div>`,
      )}
      ${this.usage === null ? html`<p class="hint" data-testid="palette-usage-unknown">What uses each class could not be read: removals are not checked.</p>` : nothing}
      ${(this.usage ?? []).some((u) => !u.inPalette)
        ? html`<p class="hint" data-testid="palette-outside">In use but not in this palette: ${(this.usage ?? [])
            .filter((u) => !u.inPalette)
            .map((u) => `${u.name} (${useText(u)})`)
            .join('; ')}</p>`
        : nothing}
      ${this.confirming
        ? html`<div class="confirm" role="alertdialog" data-testid="palette-confirm">
            <strong>${this.confirming.length === 1 ? 'This class is' : 'These classes are'} in use:</strong>
            <ul>
              ${this.confirming.map((u) => html`<li>${u.name}: ${useText(u)}</li>`)}
            </ul>
            Removing ${this.confirming.length === 1 ? 'it' : 'them'} from the palette changes none of those objects or pixels: they keep the class, which this project will no longer offer for new work.
            <div class="actions">
              <button data-testid="palette-keep" @click=${() => (this.confirming = null)}>Keep ${this.confirming.length === 1 ? 'it' : 'them'}</button>
              <button data-testid="palette-remove-anyway" @click=${() => void this.save(true)}>Remove anyway</button>
            </div>
          </div>`
        : nothing}
      ${this.renderRelabel()}
      <button data-testid="palette-add" @click=${() => (this.rows = [...this.rows, { name: '', color: '#888888', hotkey: null, id: null }])}>Add a class</button>
      ${this.problem ? html`<div class="problem" role="alert" data-testid="palette-problem">${this.problem}</div>` : nothing}
      <div class="actions">
        <button @click=${() => (this.open = false)}>Cancel</button>
        <button data-testid="palette-save" ?disabled=${this.busy || this.confirming !== null} @click=${() => void this.save()}>Save</button>
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
