/**
 * Editing shortcuts: undo and redo (one gesture per step, outlines and mask
 * alike), the class hotkeys of the palette, and union, subtract and lock of
 * the selection. Registered in that order, after the paint keys: a class
 * hotkey wins over `u`, `U` and `L`.
 */
import { registerKey } from './registry.js';
import { classifySelected, subtractSelected, toggleLockSelected, unionSelected } from './selection-edits.js';

function ctrl(e: KeyboardEvent): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey;
}

registerKey({
  keys: 'Ctrl+Z',
  label: 'undo',
  group: 'edit',
  withCtrl: true,
  match: (e) => ctrl(e) && !e.shiftKey && (e.key === 'z' || e.key === 'Z'),
  run: (k) => {
    if (!k.tools) return false;
    k.finishGesture();
    k.tools.undo.undo();
    return true;
  },
});

registerKey({
  keys: 'Ctrl+Shift+Z',
  label: 'redo (also Ctrl+Y)',
  group: 'edit',
  withCtrl: true,
  match: (e) => ctrl(e) && ((e.shiftKey && (e.key === 'z' || e.key === 'Z')) || e.key === 'y' || e.key === 'Y'),
  run: (k, e) => {
    if (!k.tools) return false;
    // Ctrl+Shift+Z finishes the gesture in progress first, as undo does
    if (e.key === 'z' || e.key === 'Z') k.finishGesture();
    k.tools.undo.redo();
    return true;
  },
});

registerKey({
  keys: '',
  label: 'class',
  group: 'classes',
  match: (e, k) => !!k.tools?.palette().some((c) => c.hotkey === e.key),
  run: (k, e) => {
    const c = k.tools?.palette().find((x) => x.hotkey === e.key);
    if (!c || !k.tools) return false;
    k.setClass(c.name);
    classifySelected(k.tools, c.name);
    return true;
  },
  rows: (k) => (k.tools?.palette() ?? []).filter((c) => c.hotkey).map((c) => [c.hotkey as string, c.name] as const),
});

registerKey({ keys: 'u', label: 'union of the selected regions', group: 'edit', match: (e) => e.key === 'u', run: (k) => !!k.tools && unionSelected(k.tools) });
registerKey({ keys: 'U', label: 'subtract the others from the first selected', group: 'edit', match: (e) => e.key === 'U', run: (k) => !!k.tools && subtractSelected(k.tools) });
registerKey({ keys: 'L', label: 'lock / unlock the selection', group: 'edit', match: (e) => e.key === 'L', run: (k) => !!k.tools && toggleLockSelected(k.tools) });
