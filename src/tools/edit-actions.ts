/**
 * Editing shortcuts: undo and redo (one gesture per step, outlines and mask
 * alike), the class hotkeys of the palette, and union, subtract, lock and
 * "set class" of the selection. Registered in that order, after the paint
 * keys: a class hotkey wins over `u`, `U` and `L`.
 *
 * A class hotkey (like a click in the palette) only chooses the class of new
 * objects and of paint; it never relabels the selection (QuPath and
 * HistomicsUI keep the two apart too). Relabelling is its own action, `C` or
 * the panel's "Set class" button: one undo step, and it says what it did.
 */
import { registerKey } from './registry.js';
import { classifySelected, subtractSelected, toggleLockSelected, unionSelected } from './selection-edits.js';
import type { ToolContext } from './tool.js';

/** Gives the selection the current class (one undo step); returns what it did, or why not, for the panel. */
export function setClassOfSelection(tools: ToolContext): string {
  const name = tools.currentClass();
  const selected = tools.selection.size;
  if (selected === 0) return 'Nothing is selected: select objects, then Set class (C) gives them the current class.';
  if (name === null) return 'Choose a class first.';
  const n = classifySelected(tools, name);
  const refused = n === 0 ? tools.layers.refusal({ update: tools.selection.list().map((id) => ({ id, changes: { classification: name } })) }, tools.store) : null;
  if (refused) return refused;
  if (n === 0) return `Nothing to change: the selection is ${name} already, or locked.`;
  const rest = selected - n;
  return `Set ${n} object${n === 1 ? '' : 's'} to ${name}${rest ? ` (${rest} left: locked or ${name} already)` : ''}. Ctrl+Z undoes.`;
}

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
    return true;
  },
  rows: (k) => (k.tools?.palette() ?? []).filter((c) => c.hotkey).map((c) => [c.hotkey as string, c.name] as const),
});

registerKey({ keys: 'u', label: 'union of the selected regions', group: 'edit', match: (e) => e.key === 'u', run: (k) => !!k.tools && unionSelected(k.tools) });
registerKey({ keys: 'U', label: 'subtract the others from the first selected', group: 'edit', match: (e) => e.key === 'U', run: (k) => !!k.tools && subtractSelected(k.tools) });
registerKey({ keys: 'L', label: 'lock / unlock the selection', group: 'edit', match: (e) => e.key === 'L', run: (k) => !!k.tools && toggleLockSelected(k.tools) });
registerKey({
  keys: 'C',
  label: 'set class of the selection to the current class',
  group: 'edit',
  match: (e) => e.key === 'C',
  run: (k) => {
    if (!k.tools) return false;
    k.tools.notify(setClassOfSelection(k.tools), 'annotate');
    return true;
  },
});
