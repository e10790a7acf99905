/**
 * The viewer's own shortcuts, registered with the tools' in the key
 * registry so the help lists them all: fit, the magnification presets, the
 * help itself; zooming and panning are OpenSeadragon's keys, listed here
 * for the help only.
 */
import { MAGNIFICATION_PRESETS } from '../core/scale.js';
import { keyUse, registerKey } from '../tools/registry.js';

const plain = (e: KeyboardEvent): boolean => !e.ctrlKey && !e.metaKey && !e.altKey;

registerKey({ keys: '0 / h', label: 'fit the slide', group: 'view', match: (e) => plain(e) && (e.key === '0' || e.key === 'h'), run: (k) => (k.fit(), true) });

registerKey({
  keys: '1–6',
  label: 'magnification presets',
  group: 'view',
  match: (e) => plain(e) && e.key.length === 1 && '123456'.includes(e.key),
  run: (k, e) => (k.setMagnification(MAGNIFICATION_PRESETS['123456'.indexOf(e.key)] as number), true),
  rows: (k) => (k.presets?.() ?? MAGNIFICATION_PRESETS.map((mag) => ({ mag, label: `${mag}×`, digital: false }))).map((p, i) => [String(i + 1), p.digital ? `${p.label} (digital zoom)` : p.label] as const),
});

registerKey({ keys: '+ / -', label: 'zoom in / out', group: 'view', match: () => false });
// OpenSeadragon pans with w a s d too, but only with the letters nothing here takes first (s is a class key by default)
registerKey({
  keys: '←↑→↓',
  label: 'pan',
  group: 'view',
  match: () => false,
  rows: (k, hasMask) => {
    const letters = ['w', 'a', 's', 'd'];
    const free = letters.filter((l) => keyUse(l, k, hasMask) === null);
    const taken = letters.filter((l) => !free.includes(l)).map((l) => `${l} is ${keyUse(l, k, hasMask) ?? ''}`);
    return [[`←↑→↓${free.length ? ` / ${free.join(' ')}` : ''}`, taken.length ? `pan (${taken.join(', ')})` : 'pan'] as const];
  },
});
registerKey({ keys: '?', label: 'this help', group: 'view', match: (e) => plain(e) && e.key === '?', run: (k) => (k.toggleHelp(), true) });
registerKey({ keys: 'Esc', label: 'close this help', group: 'view', beforeTool: true, match: (e) => e.key === 'Escape', run: (k) => k.closeHelp() });
