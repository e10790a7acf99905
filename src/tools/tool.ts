/**
 * Drawing and editing tools. The viewer turns pointer events into image
 * coordinates and hands them to the active tool; a tool previews in the
 * overlay while the gesture lasts and commits exactly one change set when it
 * ends (one gesture, one undo step).
 */
import type { AnnotationKind, Geometry } from '../core/annotation.js';
import type { AnnotationRecord, AnnotationStore, Edit, Handle } from '../state/annotation-store.js';
import type { Selection } from '../state/selection.js';
import type { SpatialIndex } from '../state/spatial-index.js';

export interface ImagePoint {
  x: number;
  y: number;
}

export interface Modifiers {
  shift: boolean;
  alt: boolean;
  ctrl: boolean;
}

export interface ToolContext {
  store: AnnotationStore;
  index: SpatialIndex;
  selection: Selection;
  /** Image pixels per screen pixel at the current zoom. */
  imagePxPerScreenPx(): number;
  mpp(): number | null;
  /** Class given to new objects. */
  currentClass(): string | null;
  commit(edit: Edit, label: string): void;
  redraw(): void;
  /** Handles the layer should not draw (they are being moved and drawn by the tool). */
  hide(handles: Handle[]): void;
  newRecord(kind: AnnotationKind, geometry: Geometry): AnnotationRecord;
}

export interface Tool {
  readonly id: ToolId;
  readonly label: string;
  readonly cursor: string;
  /** Pointer went down. Return true to keep the drag (the view does not pan). */
  press?(p: ImagePoint, m: Modifiers): boolean;
  drag?(p: ImagePoint, m: Modifiers): void;
  release?(p: ImagePoint, m: Modifiers): void;
  click?(p: ImagePoint, m: Modifiers): void;
  dblclick?(p: ImagePoint, m: Modifiers): void;
  move?(p: ImagePoint): void;
  /** Mouse wheel over the slide: return true to keep it from zooming. */
  scroll?(deltaY: number, m: Modifiers): boolean;
  /** Keyboard: return true when handled. */
  key?(e: KeyboardEvent): boolean;
  /** Draws the gesture in progress (canvas px = toScreen(image px)). */
  drawOverlay?(ctx: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]): void;
  /** The tool is being left: finish (commit) what can be finished, never drop it silently. */
  finish?(): void;
}

export type ToolId = 'select' | 'polygon' | 'freehand' | 'rectangle' | 'ellipse' | 'point' | 'ruler' | 'brush' | 'eraser' | 'flood';

/** Tools that paint the mask (the others draw annotations). */
export const PAINT_TOOLS: readonly ToolId[] = ['brush', 'eraser', 'flood'];
