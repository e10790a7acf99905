/**
 * <wsi-consensus-controls>: in the panel's Display section, under the
 * disagreement map while it is shown, a reviewer picks a consensus method
 * (majority vote or STAPLE) and, for the majority, what a tie becomes
 * (unlabelled, or one reader's class), selects the ROI polygon on the
 * slide, and accepts the consensus of the map's readers inside it into
 * the slide's reference mask (the server computes and writes it: the
 * rules are src/core/agreement/reference.ts). The readers' own masks are
 * untouched. The answer (or the refusal) is said below the button.
 */
import { LitElement, css, html, nothing } from 'lit';
import { CONSENSUS_METHODS, type ConsensusMethod, type TieRule } from '../core/agreement/reference.js';
import type { DisagreementLayer } from './disagreement-layer.js';

const METHOD_LABEL: Record<ConsensusMethod, string> = { majority: 'Majority vote', staple: 'STAPLE' };

export class WsiConsensusControls extends LitElement {
  static override properties = {
    layer: { attribute: false },
    readers: { attribute: false },
    roi: { attribute: false },
    method: { state: true },
    ties: { state: true },
    status: { state: true },
    busy: { state: true },
  };

  declare layer: DisagreementLayer | null;
  /** The readers the map compares (the layer's readerIds: a new list when the map loads). */
  declare readers: readonly string[];
  /** The selected polygon's annotation id (the ROI), or null. */
  declare roi: string | null;
  declare method: ConsensusMethod;
  /** 'unlabelled', or a reader's id whose class breaks a tie. */
  declare ties: string;
  declare status: string | null;
  declare busy: boolean;

  static override styles = css`
    :host {
      display: grid;
      gap: 4px;
      grid-column: 1 / -1;
      margin-top: 4px;
    }
    select,
    button {
      font: inherit;
    }
    .status {
      font-size: 11px;
      color: #555;
    }
  `;

  constructor() {
    super();
    this.layer = null;
    this.readers = [];
    this.roi = null;
    this.method = 'majority';
    this.ties = 'unlabelled';
    this.status = null;
    this.busy = false;
  }

  private async accept(): Promise<void> {
    const layer = this.layer;
    if (!layer || !this.roi) return;
    this.busy = true;
    this.status = 'Computing the consensus…';
    try {
      const ties: TieRule = this.method === 'majority' && this.ties !== 'unlabelled' ? 'reader' : 'unlabelled';
      const r = await layer.acceptConsensus(this.roi, this.method, ties, ties === 'reader' ? this.ties : null);
      const p = r.event.parameters;
      this.status = `Accepted into the reference mask: ${p.pixels.toLocaleString('en')} px of the ROI (${p.undecided.toLocaleString('en')} undecided), ${r.event.tiles} tile${r.event.tiles === 1 ? '' : 's'} written.`;
    } catch (err) {
      this.status = `Not accepted: ${(err as Error).message}`;
    } finally {
      this.busy = false;
    }
  }

  override render(): unknown {
    const readers = this.readers;
    if (readers.length < 2) return nothing;
    return html`<label
        >Consensus
        <select data-testid="consensus-method" aria-label="Consensus method" @change=${(e: Event) => (this.method = (e.target as HTMLSelectElement).value as ConsensusMethod)}>
          ${CONSENSUS_METHODS.map((m) => html`<option value=${m} ?selected=${m === this.method}>${METHOD_LABEL[m]}</option>`)}
        </select></label
      >
      ${this.method === 'majority'
        ? html`<label
            >Ties
            <select data-testid="consensus-ties" aria-label="What a tie becomes" @change=${(e: Event) => (this.ties = (e.target as HTMLSelectElement).value)}>
              <option value="unlabelled" ?selected=${this.ties === 'unlabelled'}>stay unlabelled</option>
              ${readers.map((r, i) => html`<option value=${r} ?selected=${this.ties === r}>go to reader ${i + 1} (${r.slice(0, 8)})</option>`)}
            </select></label
          >`
        : nothing}
      <button data-testid="consensus-accept" ?disabled=${!this.roi || this.busy} title=${this.roi ? 'Write the consensus inside the selected ROI into the reference mask' : 'Select the ROI polygon first'} @click=${() => void this.accept()}>
        Accept consensus into reference
      </button>
      ${this.roi ? nothing : html`<span class="status">Select the ROI polygon on the slide.</span>`}
      ${this.status ? html`<span class="status" data-testid="consensus-status">${this.status}</span>` : nothing}`;
  }
}

if (!customElements.get('wsi-consensus-controls')) customElements.define('wsi-consensus-controls', WsiConsensusControls);
