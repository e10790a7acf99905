/**
 * <wsi-audit>: the audit browser for auditors and admins (audit.html).
 * Records filtered by user, project, object, action and time, paged, with
 * their CSV; a check of the whole hash chain that names the first broken
 * link; and the access review: who reaches which project, when each
 * account last signed in, and which are dormant or disabled. Ids are shown
 * with the names the access review gives them.
 */
import { LitElement, css, html, nothing } from 'lit';
import { pageChrome } from './page-chrome.js';
import { accessReview, auditCsvUrl, auditPage, verifyChain, type AccessReview, type AuditFilter, type AuditRow, type VerifyResult } from '../services/audit-api.js';
import { ApiError } from '../services/slide-api.js';

/** The actions the server records (docs/identity.md), offered as suggestions. */
const ACTIONS = [
  'auth.login', 'auth.logout', 'auth.password', 'auth.totp', 'auth.token', 'access.denied', 'slide.open', 'slide.views',
  'change', 'download', 'read', 'token.create', 'token.embed', 'token.revoke', 'user.create', 'user.update', 'project.create',
  'project.update', 'project.slide.add', 'project.slide.remove', 'member.set', 'member.remove', 'audit.read', 'audit.verify',
  'audit.access-review', 'backup',
  // reviews and readings (README "Reviews and readings")
  'review.submit', 'review.accept', 'review.request-changes', 'review.reject', 'review.reopen', 'review.close', 'review.comment',
  'review.settings', 'review.reason.add', 'review.reason.retire', 'reading.create', 'reading.submit',
  // the regulatory record (README "Regulatory report")
  'report.read', 'protocol.change', 'member.qualification',
];

type Tab = 'records' | 'access';

export class WsiAudit extends LitElement {
  static override properties = {
    server: { type: String },
    tab: { state: true },
    rows: { state: true },
    next: { state: true },
    review: { state: true },
    verify: { state: true },
    problem: { state: true },
    busy: { state: true },
    filter: { state: true },
  };

  declare server: string;
  declare tab: Tab;
  declare rows: AuditRow[];
  declare next: number | null;
  declare review: AccessReview | null;
  declare verify: VerifyResult | null;
  declare problem: string | null;
  declare busy: boolean;
  declare filter: AuditFilter;

  constructor() {
    super();
    this.server = '';
    this.tab = 'records';
    this.rows = [];
    this.next = null;
    this.review = null;
    this.verify = null;
    this.problem = null;
    this.busy = false;
    this.filter = {};
  }

  static override styles = [
    pageChrome,
    css`
    nav button[aria-selected='true'] {
      font-weight: 600;
      border-bottom: 2px solid #2a62c9;
    }
    form {
      display: flex;
      flex-wrap: wrap;
      gap: 8px 12px;
      align-items: end;
      margin: 12px 0;
    }
    label {
      display: flex;
      flex-direction: column;
      font-size: 12px;
      color: #4a5565;
    }
    input,
    select {
      font: inherit;
      padding: 3px 6px;
      min-width: 9em;
    }
    table {
      border-collapse: collapse;
      width: 100%;
      font-size: 13px;
    }
    th,
    td {
      text-align: left;
      padding: 3px 8px;
      border-bottom: 1px solid #e6e9ee;
      vertical-align: top;
    }
    th {
      position: sticky;
      top: 0;
      background: #f4f6f9;
    }
    td.detail {
      font-family: ui-monospace, monospace;
      font-size: 12px;
      max-width: 28em;
      overflow-wrap: anywhere;
    }
    .denied,
    .failed {
      color: #a8231b;
      font-weight: 600;
    }
    .banner {
      padding: 6px 10px;
      margin: 8px 0;
      border-radius: 4px;
    }
    .intact {
      background: #e5f4e8;
    }
    .broken,
    .problem {
      background: #fbe6e4;
    }
    .scroll {
      max-height: calc(100vh - 230px);
      overflow: auto;
    }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    void this.start();
  }

  private async start(): Promise<void> {
    // the access review names the ids in the records; it is read first
    await this.run(async () => {
      this.review = await accessReview(this.server);
    });
    if (this.review) await this.search();
  }

  /** Runs a request, turning its failure into a message on the page. */
  private async run(fn: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.problem = null;
    try {
      await fn();
    } catch (err) {
      this.problem = this.explain(err);
    } finally {
      this.busy = false;
    }
  }

  private explain(err: unknown): string {
    if (err instanceof ApiError && err.status === 401) return 'Your session has ended. Sign in again to read the audit log.';
    if (err instanceof ApiError && err.status === 403) return 'Your account may not read the audit log: it is for auditors and administrators.';
    if (err instanceof ApiError) return `${err.code}: ${err.message}`;
    return `The server could not be reached (${(err as Error).message}). Nothing was changed; try again.`;
  }

  private async search(): Promise<void> {
    await this.run(async () => {
      const page = await auditPage(this.server, this.filter, null);
      this.rows = page.records;
      this.next = page.next;
    });
  }

  private async more(): Promise<void> {
    if (this.next === null) return;
    const after = this.next;
    await this.run(async () => {
      const page = await auditPage(this.server, this.filter, after);
      this.rows = [...this.rows, ...page.records];
      this.next = page.next;
    });
  }

  private async check(): Promise<void> {
    await this.run(async () => {
      this.verify = await verifyChain(this.server);
    });
  }

  private onFilter(e: Event): void {
    e.preventDefault();
    const form = e.currentTarget as HTMLFormElement;
    const v = (name: string): string => ((form.elements.namedItem(name) as HTMLInputElement | null)?.value ?? '').trim();
    const time = (name: string): string | undefined => (v(name) ? new Date(v(name)).toISOString() : undefined);
    const f: AuditFilter = {};
    for (const k of ['user', 'project', 'object', 'action'] as const) if (v(k)) f[k] = v(k);
    const from = time('from');
    const to = time('to');
    if (from) f.from = from;
    if (to) f.to = to;
    this.filter = f;
    void this.search();
  }

  private userName(id: string | null): string {
    if (id === null) return '—';
    return this.review?.users.find((u) => u.id === id)?.username ?? id;
  }

  private projects(): Map<string, string> {
    const out = new Map<string, string>();
    for (const u of this.review?.users ?? []) for (const p of u.projects) if (p.name) out.set(p.id, p.name);
    return out;
  }

  private renderRecords(): unknown {
    const projects = this.projects();
    return html`
      <form @submit=${this.onFilter} data-testid="audit-filter">
        <label
          >User
          <select name="user">
            <option value="">anyone</option>
            ${(this.review?.users ?? []).map((u) => html`<option value=${u.id} ?selected=${this.filter.user === u.id}>${u.username}</option>`)}
          </select></label
        >
        <label
          >Project
          <select name="project">
            <option value="">any</option>
            ${[...projects].map(([id, name]) => html`<option value=${id} ?selected=${this.filter.project === id}>${name}</option>`)}
          </select></label
        >
        <label>Object id <input name="object" .value=${this.filter.object ?? ''} placeholder="slide, annotation…" /></label>
        <label>Action <input name="action" list="actions" .value=${this.filter.action ?? ''} placeholder="any" /></label>
        <datalist id="actions">${ACTIONS.map((a) => html`<option value=${a}></option>`)}</datalist>
        <label>From <input name="from" type="datetime-local" /></label>
        <label>To <input name="to" type="datetime-local" /></label>
        <button type="submit" ?disabled=${this.busy}>Show</button>
        <a href=${auditCsvUrl(this.server, this.filter)} download="audit.csv" data-testid="audit-csv">Download CSV</a>
      </form>
      <div class="scroll">
        <table data-testid="audit-records">
          <thead>
            <tr><th>#</th><th>Time (UTC)</th><th>User</th><th>Action</th><th>Outcome</th><th>Project</th><th>Object</th><th>Detail</th><th>Address</th></tr>
          </thead>
          <tbody>
            ${this.rows.map(
              (r) => html`<tr>
                <td>${r.seq}</td>
                <td>${r.at.replace('T', ' ').replace(/\.\d+Z$/, '')}</td>
                <td>${this.userName(r.user)}</td>
                <td>${r.action}</td>
                <td class=${r.outcome}>${r.outcome}</td>
                <td>${r.project ? (projects.get(r.project) ?? r.project) : '—'}</td>
                <td>${r.object ?? '—'}</td>
                <td class="detail">${Object.keys(r.detail).length ? JSON.stringify(r.detail) : ''}</td>
                <td>${r.ip ?? ''}</td>
              </tr>`,
            )}
          </tbody>
        </table>
        ${this.rows.length === 0 && !this.busy ? html`<p data-testid="audit-empty">No records match.</p>` : nothing}
        ${this.next !== null ? html`<button @click=${() => void this.more()} ?disabled=${this.busy}>More</button>` : nothing}
      </div>
    `;
  }

  private renderAccess(): unknown {
    const r = this.review;
    if (!r) return nothing;
    return html`
      <p>Accounts not signed in for ${r.dormantDays} days are dormant. Generated ${r.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, '')} UTC.</p>
      <div class="scroll">
        <table data-testid="access-review">
          <thead>
            <tr><th>Account</th><th>Role</th><th>Projects (role)</th><th>Last sign-in (UTC)</th><th>State</th></tr>
          </thead>
          <tbody>
            ${r.users.map(
              (u) => html`<tr>
                <td>${u.username}</td>
                <td>${u.globalRole}</td>
                <td>${u.allProjects ? 'every project (admin)' : u.projects.map((p) => `${p.name ?? p.id} (${p.role})`).join(', ') || '—'}</td>
                <td>${u.lastLoginAt ? u.lastLoginAt.replace('T', ' ').replace(/\.\d+Z$/, '') : 'never'}</td>
                <td class=${u.disabled || u.dormant ? 'denied' : ''}>${u.disabled ? 'disabled' : u.dormant ? 'dormant' : 'active'}</td>
              </tr>`,
            )}
          </tbody>
        </table>
      </div>
    `;
  }

  protected override render(): unknown {
    const v = this.verify;
    return html`
      <header>
        <h1>Audit log</h1>
        <nav>
          <button aria-selected=${this.tab === 'records'} @click=${() => (this.tab = 'records')}>Records</button>
          <button aria-selected=${this.tab === 'access'} @click=${() => (this.tab = 'access')} data-testid="tab-access">Access review</button>
        </nav>
        <button @click=${() => void this.check()} ?disabled=${this.busy} data-testid="verify">Verify the chain</button>
        <a href="/">Slides</a>
      </header>
      ${this.problem
        ? html`<div class="banner problem" role="alert" data-testid="audit-problem">
            ${this.problem} ${this.problem.startsWith('Your session') ? html`<a href="/signin.html?next=/audit.html">Sign in</a>` : nothing}
          </div>`
        : nothing}
      ${v
        ? html`<div class="banner ${v.ok ? 'intact' : 'broken'}" data-testid="verify-result">
            ${v.ok
              ? `The chain is intact: ${v.records} records, ${v.checkpoints} signed checkpoints.`
              : `The chain is broken at record ${v.brokenAt}: ${v.reason}${v.contradicts !== null ? ` (contradicts the signed checkpoint at ${v.contradicts})` : ''}.`}
          </div>`
        : nothing}
      ${this.tab === 'records' ? this.renderRecords() : this.renderAccess()}
    `;
  }
}

if (!customElements.get('wsi-audit')) customElements.define('wsi-audit', WsiAudit);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-audit': WsiAudit;
  }
}
