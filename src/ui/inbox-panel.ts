/**
 * <wsi-inbox>: the quarantine inbox of a project, for its managers
 * (inbox.html, issue 15). Lists the de-identification jobs — study code,
 * state, size, the verification result, what happened to the label and
 * macro, the original's fate — with each job's report and replacement
 * label, and approves or rejects a verified copy. Nothing here names an
 * original file: the server lists jobs by id and study code only. Jobs
 * still queued or running are read again every two seconds.
 */
import { LitElement, css, html, nothing } from 'lit';
import { pageChrome } from './page-chrome.js';
import { decide, jobLabelUrl, jobReportUrl, listJobs, myProjects, projectReportUrl, scanInbox, type InboxJob, type ManagedProject } from '../services/inbox-api.js';
import { ApiError } from '../services/slide-api.js';

const POLL_MS = 2000;
/** Between the two looks of one "look now". */
const SECOND_LOOK_MS = 1500;

function kib(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(1)} MiB` : `${Math.ceil(bytes / 1024)} KiB`;
}

export class WsiInbox extends LitElement {
  static override properties = {
    server: { type: String },
    projects: { state: true },
    project: { state: true },
    jobs: { state: true },
    said: { state: true },
    busy: { state: true },
  };

  declare server: string;
  declare projects: ManagedProject[];
  declare project: string;
  declare jobs: InboxJob[] | null;
  declare said: string;
  declare busy: boolean;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    super();
    this.server = '';
    this.projects = [];
    this.project = '';
    this.jobs = null;
    this.said = '';
    this.busy = false;
  }

  static override styles = [
    pageChrome,
    css`
    table {
      border-collapse: collapse;
      margin-top: 12px;
    }
    th,
    td {
      border-bottom: 1px solid #e3e6ea;
      padding: 4px 8px;
      text-align: left;
      vertical-align: top;
    }
    .state-review {
      font-weight: 600;
    }
    .fail {
      color: #b3261e;
    }
    img {
      max-width: 120px;
      max-height: 60px;
      border: 1px solid #ccc;
    }
    [role='status'] {
      min-height: 1.4em;
      margin-top: 8px;
    }
    `,
  ];

  override connectedCallback(): void {
    super.connectedCallback();
    void this.start();
  }

  override disconnectedCallback(): void {
    super.disconnectedCallback();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private async start(): Promise<void> {
    try {
      this.projects = (await myProjects(this.server)).filter((p) => p.role === 'manager');
    } catch (err) {
      this.said = this.explain(err);
      return;
    }
    const asked = new URLSearchParams(globalThis.location?.search ?? '').get('project');
    this.project = this.projects.find((p) => p.id === asked)?.id ?? this.projects[0]?.id ?? '';
    if (!this.project) {
      this.said = 'You manage no project: the inbox is for project managers.';
      return;
    }
    await this.refresh();
  }

  private explain(err: unknown): string {
    if (err instanceof ApiError) return err.status === 404 && err.code === 'NOT_FOUND' ? 'The quarantine inbox is not configured on this server (INBOX_DIR).' : `${err.message} (${err.code})`;
    return (err as Error).message;
  }

  /** Reads the jobs again; keeps reading while any is queued or running. */
  async refresh(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.project) return;
    try {
      this.jobs = await listJobs(this.server, this.project);
    } catch (err) {
      this.said = this.explain(err);
      return;
    }
    if (this.jobs.some((j) => j.state === 'queued' || j.state === 'running') && this.isConnected) this.timer = setTimeout(() => void this.refresh(), POLL_MS);
  }

  private async scan(): Promise<void> {
    this.busy = true;
    try {
      let { added } = await scanInbox(this.server, this.project);
      // the server takes a file once two looks find it unchanged (one still being copied in waits): look a second time
      if (added.length === 0) {
        await new Promise((r) => setTimeout(r, SECOND_LOOK_MS));
        ({ added } = await scanInbox(this.server, this.project));
      }
      this.said = added.length === 0 ? 'No new file in the inbox.' : `${added.length} new file${added.length === 1 ? '' : 's'}: ${added.map((j) => j.studyCode).join(', ')}.`;
    } catch (err) {
      this.said = this.explain(err);
    } finally {
      this.busy = false;
    }
    await this.refresh();
  }

  private async decide(job: InboxJob, decision: 'approve' | 'reject'): Promise<void> {
    this.busy = true;
    try {
      const { job: after } = await decide(this.server, this.project, job.id, decision);
      this.said = decision === 'approve' ? `${after.studyCode} approved: it is now a slide of the project.` : `${after.studyCode} rejected: the copy is discarded, the original stays in quarantine.`;
    } catch (err) {
      this.said = this.explain(err);
    } finally {
      this.busy = false;
    }
    await this.refresh();
  }

  private choose(id: string): void {
    this.project = id;
    this.jobs = null;
    this.said = '';
    void this.refresh();
  }

  private renderJob(j: InboxJob): unknown {
    const waiting = j.state === 'review';
    return html`<tr data-testid="inbox-job" data-job=${j.id} data-state=${j.state}>
      <td>${j.studyCode}</td>
      <td class="state-${j.state}" data-testid="job-state">${j.state}${j.errorCode ? html` <span class="fail">${j.errorCode}</span>` : nothing}</td>
      <td>${kib(j.bytes)}</td>
      <td data-testid="job-verification" class=${j.verification === 'fail' ? 'fail' : ''}>${j.verification ?? '—'}</td>
      <td>${j.label ?? '—'} / ${j.macro ?? '—'}</td>
      <td>${j.fieldsModified ?? '—'}</td>
      <td>${j.original}</td>
      <td>${waiting ? html`<img alt="replacement label of ${j.studyCode}" src=${jobLabelUrl(this.server, this.project, j.id)} />` : nothing}</td>
      <td>
        ${j.result ? html`<a href=${jobReportUrl(this.server, this.project, j.id)} target="_blank" rel="noopener" data-testid="job-report">Report</a>` : nothing}
        ${waiting
          ? html`<button data-testid="approve" ?disabled=${this.busy} @click=${() => void this.decide(j, 'approve')}>Approve</button>
              <button data-testid="reject" ?disabled=${this.busy} @click=${() => void this.decide(j, 'reject')}>Reject</button>`
          : nothing}
      </td>
    </tr>`;
  }

  override render(): unknown {
    return html`<header>
        <h1>Quarantine inbox</h1>
        ${this.projects.length > 1
          ? html`<label>Project
              <select data-testid="inbox-project" @change=${(e: Event) => this.choose((e.target as HTMLSelectElement).value)}>
                ${this.projects.map((p) => html`<option value=${p.id} ?selected=${p.id === this.project}>${p.name}</option>`)}
              </select></label
            >`
          : html`<span>${this.projects.find((p) => p.id === this.project)?.name ?? ''}</span>`}
        ${this.project
          ? html`<button data-testid="inbox-scan" ?disabled=${this.busy} @click=${() => void this.scan()}>Look at the inbox now</button>
              <a href=${projectReportUrl(this.server, this.project)} target="_blank" rel="noopener" data-testid="project-report">Project report</a>`
          : nothing}
        <a href="/">Slides</a>
      </header>
      <div role="status" data-testid="inbox-said">${this.said}</div>
      ${this.jobs === null
        ? nothing
        : this.jobs.length === 0
          ? html`<p data-testid="inbox-empty">No file has arrived in the inbox for this project.</p>`
          : html`<table>
              <tr><th>Study code</th><th>State</th><th>Size</th><th>Verification</th><th>Label / macro</th><th>Fields changed</th><th>Original</th><th>Label now</th><th></th></tr>
              ${this.jobs.map((j) => this.renderJob(j))}
            </table>`}`;
  }
}

if (!customElements.get('wsi-inbox')) customElements.define('wsi-inbox', WsiInbox);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-inbox': WsiInbox;
  }
}
