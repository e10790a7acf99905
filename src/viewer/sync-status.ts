/** The save status line of the panels, for the outlines and for the mask alike. */
import type { SenderState } from '../services/outbox-sender.js';

/** "All changes saved", "Offline — 3 changes queued", …; `what` names the thing saved ("change", "mask edit"). */
export function syncStatusText(s: SenderState<unknown>, what: { saved: string; saving: (n: number) => string; edit: string; conflict: string; failed: string }): string {
  const n = s.queued;
  switch (s.status) {
    case 'saved':
      return what.saved;
    case 'saving':
      return what.saving(n);
    case 'offline':
      return `Offline — ${n} ${what.edit}${n === 1 ? '' : 's'} queued`;
    case 'retrying':
      return `Server error — retrying (${n} queued)`;
    case 'conflict':
      return `${what.conflict} — choose a version`;
    default:
      return `${what.failed} — ${s.message ?? 'error'}`;
  }
}

/** The CSS class of the status line: fine, busy, or needs attention. */
export function syncStatusClass(s: SenderState<unknown>): string {
  return s.status === 'saved' ? '' : s.status === 'saving' ? 'warn' : 'bad';
}
