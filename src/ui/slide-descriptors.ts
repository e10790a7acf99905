/**
 * <wsi-slide-descriptors>: the site and stain of the open slide, shown in
 * the slide's details (src/ui/slide-info.ts) to every member, and a small
 * form for the project's managers (the report's dataset composition groups
 * slides by them; issue 15). A refusal is shown with the server's code;
 * what was typed stays in the form.
 */
import { LitElement, css, html, nothing } from 'lit';
import { getDescriptors, MAX_DESCRIPTOR, setDescriptors, type SlideDescriptors } from '../services/descriptor-api.js';
import { detailListStyles } from './detail-list-styles.js';
import { LatestLoad } from './latest-load.js';

export class WsiSlideDescriptors extends LitElement {
  static override properties = {
    server: { type: String },
    slide: { type: String },
    canManage: { type: Boolean },
    value: { state: true },
    problem: { state: true },
    saving: { state: true },
    saved: { state: true },
  };

  declare server: string;
  declare slide: string;
  declare canManage: boolean;
  declare value: SlideDescriptors | null;
  declare problem: string | null;
  declare saving: boolean;
  declare saved: boolean;
  private readonly loads = new LatestLoad(this);

  constructor() {
    super();
    this.server = '';
    this.slide = '';
    this.canManage = false;
    this.value = null;
    this.problem = null;
    this.saving = false;
    this.saved = false;
  }

  static override styles = [
    detailListStyles,
    css`
    :host {
      display: block;
    }
    form {
      display: grid;
      grid-template-columns: auto 1fr;
      gap: 2px 6px;
      margin: 4px 0;
    }
    input {
      font: inherit;
      min-width: 0;
    }
    .warn {
      color: #8a4b00;
    }
  `,
  ];

  protected override willUpdate(changed: Map<string, unknown>): void {
    if (changed.has('slide') || changed.has('server')) void this.load();
  }

  private async load(): Promise<void> {
    this.loads.cancel();
    this.value = null;
    this.problem = null;
    this.saved = false;
    if (!this.slide) return;
    const got = await this.loads.run((signal) => getDescriptors(this.server, this.slide, signal));
    if (got?.ok) this.value = got.value;
    else if (got) this.problem = `Site and stain could not be read: ${got.error.message}`;
  }

  private async save(e: Event): Promise<void> {
    e.preventDefault();
    const form = e.target as HTMLFormElement;
    const read = (name: string): string => (form.elements.namedItem(name) as HTMLInputElement).value;
    if (!this.value) return;
    this.saving = true;
    this.problem = null;
    this.saved = false;
    try {
      this.value = await setDescriptors(this.server, this.slide, this.value.version, read('site'), read('stain'));
      this.saved = true;
    } catch (err) {
      const code = (err as { code?: string }).code;
      this.problem = code === 'PRECONDITION_FAILED' ? 'Someone changed the site or stain meanwhile: reload the slide to see it, then set it again.' : `Not saved: ${code ?? ''} ${(err as Error).message}`;
    } finally {
      this.saving = false;
    }
  }

  protected override render(): unknown {
    const v = this.value;
    const problem = this.problem ? html`<div class="warn" role="alert" data-testid="descriptors-problem">${this.problem}</div>` : nothing;
    if (!v) return problem;
    if (!this.canManage) {
      return html`<dl data-testid="slide-descriptors">
          <dt>Site</dt><dd data-field="Site">${v.site ?? 'not set'}</dd>
          <dt>Stain</dt><dd data-field="Stain">${v.stain ?? 'not set'}</dd>
        </dl>${problem}`;
    }
    return html`<form data-testid="slide-descriptors-form" @submit=${(e: Event) => void this.save(e)}>
        <label for="site">Site</label><input id="site" name="site" data-testid="descriptor-site" maxlength=${MAX_DESCRIPTOR} .value=${v.site ?? ''} autocomplete="off" />
        <label for="stain">Stain</label><input id="stain" name="stain" data-testid="descriptor-stain" maxlength=${MAX_DESCRIPTOR} .value=${v.stain ?? ''} autocomplete="off" />
        <span></span><span><button type="submit" data-testid="descriptors-save" ?disabled=${this.saving}>Save site and stain</button>${this.saved ? html` <span data-testid="descriptors-saved">Saved (version ${v.version}).</span>` : nothing}</span>
      </form>${problem}`;
  }
}

if (!customElements.get('wsi-slide-descriptors')) customElements.define('wsi-slide-descriptors', WsiSlideDescriptors);

declare global {
  interface HTMLElementTagNameMap {
    'wsi-slide-descriptors': WsiSlideDescriptors;
  }
}
