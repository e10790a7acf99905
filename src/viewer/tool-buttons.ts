/**
 * A panel section's tools, generated from the tool registry: one button per
 * tool of the section that this slide has (icon, label, key), why the
 * active tool cannot work now, the section's last message, and whatever the
 * active tool adds to its section.
 */
import { html, nothing, type TemplateResult } from 'lit';
import type { ToolSection } from '../tools/registry.js';
import type { ToolHost } from './tool-host.js';

export function toolButtons(host: ToolHost | null, section: ToolSection): TemplateResult {
  const tools = host?.available().filter((t) => t.section === section) ?? [];
  const active = host?.active;
  return html`${tools.map(
    (t) =>
      html`<button
        data-testid=${`tool-${t.id}`}
        aria-pressed=${active?.spec.id === t.id ? 'true' : 'false'}
        ?disabled=${!!host?.readOnly && host.edits(t.id)}
        title=${host?.readOnly && host.edits(t.id) ? host.readOnly : `${t.label} (${t.key})`}
        @click=${() => host?.setTool(t.id)}
      >
        <span class="icon" aria-hidden="true">${t.icon}</span>${t.label}<kbd>${t.key}</kbd>
      </button>`,
  )}`;
}

/** Why the active tool of this section cannot work, its last message, and its own panel content. */
export function toolStatus(host: ToolHost | null, section: ToolSection): TemplateResult {
  const active = host?.active;
  const mine = active && active.spec.section === section;
  const readOnly = host?.readOnly ?? null;
  const reason = mine ? host.unavailable() : null;
  const message = host?.message(section) ?? null;
  return html`
    ${readOnly
      ? html`<div class="status warn" role="note" data-testid=${`${section}-read-only`}>${section === 'annotate' ? readOnly : 'Painting is off here: see why under Tools.'}</div>`
      : nothing}
    ${reason && reason !== readOnly ? html`<div class="status warn" data-testid=${`${section}-disabled`}>${reason}</div>` : nothing}
    ${message && message !== reason && message !== readOnly ? html`<div class="status warn" data-testid=${`${section}-message`}>${message}</div>` : nothing}
    ${mine && active.spec.panel ? active.spec.panel(active.tool, host.context) : nothing}
  `;
}
