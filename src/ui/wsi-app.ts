/**
 * <wsi-app>: the slide list (thumbnail, size, status) and the viewer. The
 * URL hash holds the open slide and the view, so a reload or a shared link
 * returns to the same place.
 */
import { LitElement, css, html, nothing } from 'lit';
import { changeHeaders, SESSION_ENDED } from '../services/http.js';
import { openOutbox } from '../services/outbox.js';
import './reauth-dialog.js';
import { ApiError, listSlides, thumbnailUrl, type SlideSummary } from '../services/slide-api.js';
import { formatDeepLink, parseDeepLink, type ViewState } from '../core/deep-link.js';
import '../viewer/wsi-viewer.js';
import type { ViewChangeDetail } from '../viewer/viewer-events.js';

interface Me {
  user: { id: string; username: string; displayName: string; globalRole: string };
  projects: Array<{ id: string; name: string; role: string }>;
}

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
  };

  declare server: string;
  declare slides: SlideSummary[] | null;
  declare selected: string | null;
  declare initialView: ViewState | null;
  declare loadError: string | null;
  /** The signed-in account and its projects (GET /api/auth/me). */
  declare me: Me | null;

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
    .who {
      font-weight: 400;
      color: #555;
      font-size: 12px;
    }
    .problem {
      padding: 12px;
      color: #b42318;
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
      if (me.ok) this.me = (await me.json()) as Me;
    } catch (err) {
      // not signed in (or the session ended): the sign-in page brings the user back here
      if (err instanceof ApiError && err.status === 401) return void location.assign(`/signin.html?next=${encodeURIComponent(location.pathname + location.search + location.hash)}`);
      this.loadError = `Slides could not be listed: ${(err as Error).message}`;
    }
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

  /** The slide list grouped by project, in the order of the caller's projects (one group, unnamed, before that is known). */
  private byProject(): Array<{ name: string | null; role: string | null; slides: SlideSummary[] }> {
    const slides = this.slides ?? [];
    const projects = this.me?.projects ?? [];
    if (projects.length === 0) return [{ name: null, role: null, slides }];
    const groups = projects.map((p) => ({ name: p.name, role: p.role, slides: slides.filter((s) => s.project === p.id) }));
    const rest = slides.filter((s) => !projects.some((p) => p.id === s.project));
    return [...groups.filter((g) => g.slides.length > 0), ...(rest.length ? [{ name: null, role: null, slides: rest }] : [])];
  }

  private renderSlide(s: SlideSummary): unknown {
    const ok = s.status === 'ok';
    return html`<li>
      <button data-testid="slide-item" data-slide=${s.id} aria-current=${this.selected === s.id ? 'true' : 'false'} @click=${() => this.open(s.id)}>
        ${ok ? html`<img alt="" loading="lazy" src=${thumbnailUrl(this.server, s.id, 128)} />` : html`<div class="noimg"></div>`}
        <span>
          <div class="name">${s.name}</div>
          ${ok
            ? html`<div class="meta">
                ${s.width?.toLocaleString()} × ${s.height?.toLocaleString()} px · ${s.levels} level${s.levels === 1 ? '' : 's'} ·
                ${s.mpp ? `${s.mpp.toFixed(3)} µm/px` : 'no MPP'}${s.objectivePower ? ` · ${s.objectivePower}×` : ''} · ${formatBytes(s.bytes)}
              </div>`
            : html`<div class="status-error" data-testid="slide-error">${s.error?.code}: ${s.error?.message}</div>`}
        </span>
      </button>
    </li>`;
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
        ${this.slides?.length === 0 ? html`<div class="meta" style="padding:12px">No slides in the slide folder.</div>` : nothing}
        <ul>
          ${this.byProject().map(
            ({ name, role, slides }) => html`${name ? html`<li class="project" data-testid="project">${name}${role ? html` · ${role}` : nothing}</li>` : nothing}
              ${slides.map((s) => this.renderSlide(s))}`,
          )}
        </ul>
      </aside>
      ${this.selected
        ? html`<wsi-viewer annotate .server=${this.server} .drawer=${this.drawer} .slide=${this.selected} .view=${view} @wsi-view-change=${this.onView}></wsi-viewer>`
        : html`<div class="empty">Choose a slide</div>`}
      <wsi-reauth-dialog></wsi-reauth-dialog>
    `;
  }
}

if (!customElements.get('wsi-app')) customElements.define('wsi-app', WsiApp);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-app': WsiApp;
  }
}
