/**
 * <wsi-app>: the project picker, the chosen project's slide list
 * (thumbnail, size, status) and the viewer. The URL hash holds the open
 * slide and the view, so a reload or a shared link returns to the same
 * place; the chosen project is remembered in this browser, per user.
 */
import { LitElement, css, html, nothing } from 'lit';
import { changeHeaders, SESSION_ENDED } from '../services/http.js';
import { openOutbox } from '../services/outbox.js';
import './palette-editor.js';
import './reauth-dialog.js';
import './slide-info.js';
import { ApiError, listSlides, thumbnailUrl, type SlideSummary } from '../services/slide-api.js';
import { formatDeepLink, parseDeepLink, type ViewState } from '../core/deep-link.js';
import { byFolder, filterAndSort, isSlideSort, nameInFolder, paintedArea, SLIDE_SORTS, type SlideSort } from '../state/slide-list.js';
import '../viewer/wsi-viewer.js';
import type { ViewChangeDetail } from '../viewer/viewer-events.js';

interface MeProject {
  id: string;
  name: string;
  role: string;
  editingMode?: string;
  blind?: boolean;
}

interface Me {
  user: { id: string; username: string; displayName: string; globalRole: string };
  projects: MeProject[];
}

/** Where the chosen project is remembered (per user: a shared browser keeps each one's choice). */
const projectKey = (userId: string): string => `wsi-annotate.project.${userId}`;

/** What a project's editing mode means for the people in it (shown under the picker). */
const MODE_TEXT: Record<string, string> = {
  restricted: 'Restricted: annotators change only their own objects.',
  'read-only': 'Read-only: nothing can be drawn, painted or imported.',
};

function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1)} GB`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)} MB`;
  return `${Math.max(1, Math.round(n / 1e3))} kB`;
}

export class WsiApp extends LitElement {
  static override properties = {
    server: { type: String },
    slides: { state: true },
    selected: { state: true },
    initialView: { state: true },
    loadError: { state: true },
    me: { state: true },
    project: { state: true },
    query: { state: true },
    sort: { state: true },
  };

  declare server: string;
  declare slides: SlideSummary[] | null;
  declare selected: string | null;
  declare initialView: ViewState | null;
  declare loadError: string | null;
  /** The signed-in account and its projects (GET /api/auth/me). */
  declare me: Me | null;
  /** The chosen project's id (null: not known yet, or no project). */
  declare project: string | null;
  /** The slide list's search text and order. */
  declare query: string;
  declare sort: SlideSort;

  private hashTimer = 0;
  /** `?drawer=canvas|webgl` forces OpenSeadragon's drawer (default: by capability). */
  private readonly drawer = new URLSearchParams(location.search).get('drawer') ?? 'auto';

  constructor() {
    super();
    this.server = '';
    this.slides = null;
    this.selected = null;
    this.initialView = null;
    this.loadError = null;
    this.me = null;
    this.project = null;
    this.query = '';
    this.sort = 'name';
  }

  static override styles = css`
    :host {
      display: grid;
      grid-template-columns: minmax(220px, 300px) 1fr;
      grid-template-rows: 100%;
      height: 100%;
      font: 14px/1.35 system-ui, sans-serif;
      color: #1d1d1f;
    }
    aside {
      overflow: auto;
      border-right: 1px solid #d0d0d5;
      background: #f6f6f8;
    }
    header {
      padding: 10px 12px;
      font-weight: 600;
      border-bottom: 1px solid #d0d0d5;
    }
    ul {
      list-style: none;
      margin: 0;
      padding: 0;
    }
    li button {
      display: grid;
      grid-template-columns: 64px 1fr;
      gap: 8px;
      width: 100%;
      text-align: left;
      background: none;
      border: none;
      border-bottom: 1px solid #e3e3e8;
      padding: 8px 10px;
      font: inherit;
      color: inherit;
      cursor: pointer;
    }
    li button:hover,
    li button:focus-visible {
      background: #e9eefc;
    }
    li button[aria-current='true'] {
      background: #dbe5fd;
    }
    img,
    .noimg {
      width: 64px;
      height: 64px;
      object-fit: contain;
      background: #fff;
      border: 1px solid #ddd;
    }
    .name {
      font-weight: 500;
      word-break: break-all;
    }
    .meta {
      color: #555;
      font-size: 12px;
    }
    .status-error {
      color: #b42318;
      font-size: 12px;
    }
    wsi-viewer {
      height: 100%;
      min-width: 0;
    }
    .empty {
      display: grid;
      place-items: center;
      color: #666;
    }
    .project {
      padding: 8px 10px 4px;
      font-size: 12px;
      font-weight: 600;
      color: #444;
      text-transform: uppercase;
      letter-spacing: 0.03em;
    }
    .picker {
      padding: 8px 10px 4px;
      border-bottom: 1px solid #e3e3e8;
    }
    .picker label {
      display: grid;
      gap: 2px;
      font-size: 12px;
      color: #444;
    }
    .picker select {
      font: inherit;
      padding: 3px;
    }
    .picker .classes {
      font: inherit;
      font-size: 12px;
      margin: 2px 0 4px;
    }
    .picker .project {
      padding: 6px 0 2px;
    }
    .who {
      font-weight: 400;
      color: #555;
      font-size: 12px;
    }
    .notice {
      margin: 12px;
      padding: 10px 12px;
      background: #fff7e6;
      border: 1px solid #f0d9a8;
      border-radius: 4px;
    }
    .problem {
      padding: 12px;
      color: #b42318;
    }
    .find {
      display: grid;
      grid-template-columns: minmax(0, 1fr) auto;
      gap: 6px;
      padding: 8px 10px;
      border-bottom: 1px solid #e3e3e8;
    }
    .find input,
    .find select {
      font: inherit;
      font-size: 13px;
      padding: 3px 4px;
      min-width: 0;
    }
    .folder {
      padding: 6px 10px 4px;
      font-size: 12px;
      font-weight: 600;
      color: #444;
      background: #eeeef2;
      border-bottom: 1px solid #e3e3e8;
      word-break: break-all;
    }
    .details {
      padding: 2px 10px 8px 82px;
      border-bottom: 1px solid #e3e3e8;
      background: #dbe5fd;
    }
    .details summary {
      cursor: pointer;
      font-size: 12px;
      color: #1f3b7a;
    }
    .badge {
      display: inline-block;
      margin-top: 2px;
      padding: 0 6px;
      border-radius: 8px;
      background: #e4ebfb;
      color: #1f3b7a;
      font-size: 11px;
    }
  `;

  override connectedCallback(): void {
    super.connectedCallback();
    window.addEventListener('hashchange', this.onHash);
    window.addEventListener(SESSION_ENDED, this.onSessionEnded);
    this.onHash();
    void this.load();
  }

  override disconnectedCallback(): void {
    window.removeEventListener('hashchange', this.onHash);
    window.removeEventListener(SESSION_ENDED, this.onSessionEnded);
    super.disconnectedCallback();
  }

  private async load(): Promise<void> {
    try {
      this.slides = await listSlides(this.server);
      this.loadError = null;
      const me = await fetch(`${this.server}/api/auth/me`, { headers: { Accept: 'application/json' } });
      if (me.ok) {
        this.me = (await me.json()) as Me;
        this.project = this.initialProject(this.me);
        try {
          const sort = localStorage.getItem(`${projectKey(this.me.user.id)}.sort`);
          if (sort && isSlideSort(sort)) this.sort = sort;
        } catch {
          // storage disabled: name order
        }
      }
    } catch (err) {
      // not signed in (or the session ended): the sign-in page brings the user back here
      if (err instanceof ApiError && err.status === 401) return void location.assign(`/signin.html?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
      this.loadError = `Slides could not be listed: ${(err as Error).message}`;
    }
  }

  /**
   * The project to show first: the one of a slide the link opens, else the
   * one chosen last time in this browser, else the first.
   */
  private initialProject(me: Me): string | null {
    const ids = new Set(me.projects.map((p) => p.id));
    const linked = this.slides?.find((s) => s.id === this.selected)?.project;
    if (linked && ids.has(linked)) return linked;
    let remembered: string | null = null;
    try {
      remembered = localStorage.getItem(projectKey(me.user.id));
    } catch {
      // storage disabled: no memory of the choice
    }
    if (remembered && ids.has(remembered)) return remembered;
    return me.projects[0]?.id ?? null;
  }

  private chooseSort(value: string): void {
    if (!isSlideSort(value)) return;
    this.sort = value;
    try {
      if (this.me) localStorage.setItem(`${projectKey(this.me.user.id)}.sort`, value);
    } catch {
      // storage disabled: the order lasts for this page
    }
  }

  private chooseProject(id: string): void {
    this.project = id;
    try {
      if (this.me) localStorage.setItem(projectKey(this.me.user.id), id);
    } catch {
      // storage disabled: the choice lasts for this page
    }
  }

  /** A manager saved a project's palette: the open slide, if it is that project's, is redrawn with it. */
  private paletteSaved(project: string, renamed?: { from: string; to: string }): void {
    if (renamed) this.renderRoot.querySelector('wsi-viewer')?.classRenamed(project, renamed.from, renamed.to, this.me?.user.id ?? null);
    if (this.slides?.find((s) => s.id === this.selected)?.project === project) void this.renderRoot.querySelector('wsi-viewer')?.reloadPalette();
  }

  /**
   * Signs out, after saying what is not on the server yet: the edits waiting
   * in this browser's outbox leave with the user (they are deleted), and the
   * page, with every slide and annotation it held, is left for the sign-in page.
   */
  private async signOut(): Promise<void> {
    const outbox = await openOutbox();
    const unsent = await outbox.count();
    if (unsent > 0 && !confirm(`${unsent} edit${unsent === 1 ? ' is' : 's are'} not on the server yet. Signing out deletes ${unsent === 1 ? 'it' : 'them'} from this browser. Sign out anyway?`)) return;
    // an account of an identity provider is signed out there too, when it offers that (docs/identity.md, SEC-09)
    let next = '/signin.html';
    try {
      const res = await fetch(`${this.server}/api/auth/session`, { method: 'DELETE', headers: changeHeaders() });
      const body = (await res.json().catch(() => ({}))) as { endSessionUrl?: unknown };
      if (res.ok && typeof body.endSessionUrl === 'string' && /^https?:\/\//.test(body.endSessionUrl)) next = body.endSessionUrl;
    } catch {
      // offline: the server ends the session at its idle timeout; this browser forgets it now
    }
    await outbox.clear();
    location.assign(next);
  }

  /** A change was refused with 401 while working: sign in again in place (the outbox keeps the edits). */
  private readonly onSessionEnded = (): void => {
    const dialog = this.renderRoot.querySelector('wsi-reauth-dialog');
    if (dialog) dialog.open = true;
  };

  private readonly onHash = (): void => {
    const link = parseDeepLink(location.hash);
    if (link.slide !== this.selected) {
      this.initialView = link.view;
      this.selected = link.slide;
      // a link to a slide of another of one's projects shows that project's list
      const project = this.slides?.find((s) => s.id === link.slide)?.project;
      if (project && this.me?.projects.some((p) => p.id === project)) this.project = project;
    }
  };

  private open(id: string): void {
    if (id === this.selected) return;
    this.initialView = null;
    this.selected = id;
    history.pushState(null, '', formatDeepLink({ slide: id, view: null }) || '#');
    // keyboard shortcuts go to the viewer once it is there
    void this.updateComplete.then(() => this.renderRoot.querySelector('wsi-viewer')?.focus());
  }

  private onView(e: CustomEvent<ViewChangeDetail>): void {
    const { slide, view } = e.detail;
    if (slide !== this.selected) return;
    window.clearTimeout(this.hashTimer);
    this.hashTimer = window.setTimeout(() => {
      history.replaceState(null, '', formatDeepLink({ slide, view }));
    }, 150);
  }

  /** The slides listed: the chosen project's (all of them before the projects are known). */
  private listed(): SlideSummary[] {
    const slides = this.slides ?? [];
    if (!this.me || this.project === null) return slides;
    return slides.filter((s) => s.project === this.project);
  }

  /** The project picker (a choice only with two projects or more), the project's name, role and mode. */
  private renderProject(): unknown {
    const me = this.me;
    if (!me) return nothing;
    if (me.projects.length === 0) {
      return html`<div class="notice" role="status" data-testid="no-project">
        You are not in any project yet, so there are no slides to show. Ask a manager to add you to a project.
      </div>`;
    }
    const current = me.projects.find((p) => p.id === this.project) ?? null;
    return html`<div class="picker">
      ${me.projects.length > 1
        ? html`<label>Project
            <select data-testid="project-picker" @change=${(e: Event) => this.chooseProject((e.target as HTMLSelectElement).value)}>
              ${me.projects.map((p) => html`<option value=${p.id} ?selected=${p.id === this.project}>${p.name}</option>`)}
            </select>
          </label>`
        : nothing}
      ${current
        ? html`<div class="project" data-testid="project">${current.name} · ${current.role}</div>
            ${current.role === 'manager'
              ? html`<button class="classes" data-testid="edit-classes" title="The classes of this project: names, colours, hotkeys, order" @click=${() => void this.renderRoot.querySelector('wsi-palette-editor')?.show()}>Classes…</button>
                  <a href=${`/inbox.html?project=${encodeURIComponent(current.id)}`} data-testid="inbox-link" title="Slides waiting in quarantine for de-identification and approval">Inbox</a>`
              : nothing}
            ${MODE_TEXT[current.editingMode ?? ''] ? html`<div class="meta" data-testid="project-mode">${MODE_TEXT[current.editingMode ?? '']}</div>` : nothing}`
        : nothing}
    </div>`;
  }

  private renderSlide(s: SlideSummary): unknown {
    const ok = s.status === 'ok';
    return html`<li>
      <button data-testid="slide-item" data-slide=${s.id} aria-current=${this.selected === s.id ? 'true' : 'false'} @click=${() => this.open(s.id)}>
        ${ok ? html`<img alt="" loading="lazy" src=${thumbnailUrl(this.server, s.id, 128)} />` : html`<div class="noimg"></div>`}
        <span>
          <div class="name" title=${s.name}>${nameInFolder(s)}</div>
          ${ok
            ? html`<div class="meta">
                ${s.width?.toLocaleString()} × ${s.height?.toLocaleString()} px · ${s.levels} level${s.levels === 1 ? '' : 's'} ·
                ${s.mpp ? `${s.mpp.toFixed(3)} µm/px` : 'no MPP'}${s.objectivePower ? ` · ${s.objectivePower}×` : ''} · ${formatBytes(s.bytes)}
              </div>`
            : html`<div class="status-error" data-testid="slide-error">${s.error?.code}: ${s.error?.message}</div>`}
          ${(s.objects ?? 0) > 0 || (s.labelledPx ?? 0) > 0
            ? html`<span class="badge" data-testid="slide-badge" title="What you can see of the work on this slide"
                >${[(s.objects ?? 0) > 0 ? `${(s.objects ?? 0).toLocaleString('en-US')} annotation${s.objects === 1 ? '' : 's'}` : '', paintedArea(s.labelledPx ?? 0, s.mpp)].filter(Boolean).join(' · ')}</span
              >`
            : nothing}
        </span>
      </button>
      ${this.selected === s.id
        ? html`<details class="details" data-testid="slide-details">
            <summary>Slide details</summary>
            <wsi-slide-info .server=${this.server} .slide=${s.id}></wsi-slide-info>
          </details>`
        : nothing}
    </li>`;
  }

  /** The search box and order, then the slides found, in their folders. */
  private renderSlides(): unknown {
    const listed = this.listed();
    if (listed.length === 0) return nothing;
    const found = filterAndSort(listed, this.query, this.sort);
    const groups = byFolder(found);
    return html`<div class="find">
        <input
          type="search"
          data-testid="slide-search"
          placeholder="Find a slide"
          aria-label="Find a slide by name or folder"
          .value=${this.query}
          @input=${(e: Event) => (this.query = (e.target as HTMLInputElement).value)}
        />
        <select data-testid="slide-sort" aria-label="Order of the slides" title="Order of the slides" @change=${(e: Event) => this.chooseSort((e.target as HTMLSelectElement).value)}>
          ${Object.entries(SLIDE_SORTS).map(([id, s]) => html`<option value=${id} ?selected=${id === this.sort}>${s.label}</option>`)}
        </select>
      </div>
      ${found.length === 0 ? html`<div class="meta" style="padding:12px" data-testid="no-match">No slide matches “${this.query}”.</div>` : nothing}
      ${groups.map(
        (g) => html`${groups.length > 1 || g.folder !== ''
            ? html`<div class="folder" data-testid="slide-folder">${g.folder === '' ? 'Slide folder' : `${g.folder}/`} <span class="who">(${g.slides.length})</span></div>`
            : nothing}
          <ul>
            ${g.slides.map((s) => this.renderSlide(s))}
          </ul>`,
      )}`;
  }

  protected override render(): unknown {
    const view = this.initialView ? `${this.initialView.x},${this.initialView.y},${this.initialView.zoom}` : '';
    return html`
      <aside>
        <header>
          Slides
          <button data-testid="sign-out" style="float:right" @click=${() => void this.signOut()}>Sign out</button>
          ${this.me ? html`<div class="who" data-testid="signed-in-as">${this.me.user.displayName}</div>` : nothing}
          ${this.me && (this.me.user.globalRole === 'admin' || this.me.user.globalRole === 'auditor') ? html`<a href="/audit.html" data-testid="audit-link">Audit log</a>` : nothing}
        </header>
        ${this.loadError ? html`<div class="problem" role="alert">${this.loadError}</div>` : nothing}
        ${this.slides === null && !this.loadError ? html`<div class="meta" style="padding:12px">Loading…</div>` : nothing}
        ${this.renderProject()}
        ${this.slides !== null && this.listed().length === 0 && this.project !== null
          ? html`<div class="meta" style="padding:12px" data-testid="no-slides">No slides in this project yet.</div>`
          : nothing}
        ${this.slides?.length === 0 && this.project === null && this.me === null ? html`<div class="meta" style="padding:12px">No slides.</div>` : nothing}
        ${this.renderSlides()}
      </aside>
      ${this.selected
        ? html`<wsi-viewer annotate .server=${this.server} .drawer=${this.drawer} .slide=${this.selected} .view=${view} @wsi-view-change=${this.onView}></wsi-viewer>`
        : html`<div class="empty">${this.me?.projects.length === 0 ? 'No slides to show yet' : 'Choose a slide'}</div>`}
      <wsi-reauth-dialog></wsi-reauth-dialog>
      ${this.me && this.project
        ? html`<wsi-palette-editor
            .server=${this.server}
            .project=${this.project}
            .projectName=${this.me.projects.find((p) => p.id === this.project)?.name ?? ''}
            @wsi-palette-saved=${(e: CustomEvent<{ project: string; renamed?: { from: string; to: string } }>) => this.paletteSaved(e.detail.project, e.detail.renamed)}
          ></wsi-palette-editor>`
        : nothing}
    `;
  }
}

if (!customElements.get('wsi-app')) customElements.define('wsi-app', WsiApp);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-app': WsiApp;
  }
}
