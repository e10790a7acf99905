/**
 * The viewer's own shortcuts, registered with the tools' in the key
 * registry so the help lists them all: fit, the magnification presets, the
 * help itself; zooming and panning are OpenSeadragon's keys, listed here
 * for the help only.
 */
import { MAGNIFICATION_PRESETS } from '../core/scale.js';
import { registerKey } from '../tools/registry.js';

const plain = (e: KeyboardEvent): boolean => !e.ctrlKey && !e.metaKey && !e.altKey;

registerKey({ keys: '0 / h', label: 'fit the slide', group: 'view', match: (e) => plain(e) && (e.key === '0' || e.key === 'h'), run: (k) => (k.fit(), true) });

registerKey({
  keys: '1–6',
  label: 'magnification presets',
  group: 'view',
  match: (e) => plain(e) && e.key.length === 1 && '123456'.includes(e.key),
  run: (k, e) => (k.setMagnification(MAGNIFICATION_PRESETS['123456'.indexOf(e.key)] as number), true),
  rows: () => MAGNIFICATION_PRESETS.map((m, i) => [String(i + 1), `${m}×`] as const),
});

registerKey({ keys: '+ / -', label: 'zoom in / out', group: 'view', match: () => false });
registerKey({ keys: '←↑→↓ / w a s d', label: 'pan', group: 'view', match: () => false });
registerKey({ keys: '?', label: 'this help', group: 'view', match: (e) => plain(e) && e.key === '?', run: (k) => (k.toggleHelp(), true) });
registerKey({ keys: 'Esc', label: 'close this help', group: 'view', match: (e) => e.key === 'Escape', run: (k) => k.closeHelp() });
