/**
 * What a tool is and what it may use. The viewer turns pointer events into
 * level-0 image points and hands them to the active tool; a tool previews
 * in the overlay while the gesture lasts and commits exactly one change set
 * when it ends (one gesture, one undo step). Tools see the slide through a
 * ToolContext, so they depend on interfaces, never on the viewer or the
 * sessions (which implement them).
 */
import type { AnnotationClass, AnnotationKind, Geometry } from '../core/annotation.js';
import type { PixelBox } from '../core/mask/raster.js';
import type { AnnotationRecord, AnnotationStore, Edit, Handle } from '../state/annotation-store.js';
import type { ClassLayers } from '../state/class-layers.js';
import type { Selection } from '../state/selection.js';
import type { SpatialIndex } from '../state/spatial-index.js';
import type { UndoManager } from '../state/undo.js';
import type { PaintSettings } from './paint-settings.js';
import type { ModelContext } from './model-context.js';

/** Where a tool's button, messages and panel content go: the annotation tools, or the painting tools (only when the server keeps masks). */
export type ToolSection = 'annotate' | 'paint';

export interface ImagePoint {
  x: number;
  y: number;
}

export interface Modifiers {
  shift: boolean;
  alt: boolean;
  ctrl: boolean;
}

/** What a mask edit did (or why it was refused). */
export interface EditOutcome {
  /** Level-0 tiles changed. */
  keys: string[];
  pixels: number;
  refused: string | null;
}

/** The painted mask as tools edit it (the mask session implements it). */
export interface MaskEditing {
  readonly loaded: boolean;
  readonly loadError: string | null;
  /** A brush (value > 0) or eraser (value 0) stroke; `clip` limits it to the union of those polygons (ROIs). */
  stroke(path: Float64Array, radius: number, value: number, clip: Float64Array[][] | null): Promise<EditOutcome>;
  /** Fills the closed region around (x, y) within `bounds` (the view). */
  flood(x: number, y: number, value: number, bounds: PixelBox): Promise<EditOutcome>;
  /** Fills polygons (each a list of flat rings) with a class. */
  fillPolygons(polygons: Float64Array[][], value: number, label: string): Promise<EditOutcome>;
}

/** What the review mode needs beyond the annotations (the viewer provides it when it knows the slide's project). */
export interface ReviewHost {
  server: string;
  /** The project-slide id. */
  slideId: string;
  projectId: string;
  /** The server's actions for the caller here include `review`. */
  canReview: boolean;
  /** Brings a level-0 box into view. */
  show(box: PixelBox): void;
}

export interface ToolContext {
  store: AnnotationStore;
  index: SpatialIndex;
  selection: Selection;
  undo: UndoManager;
  /** Level-0 pixels per screen pixel at the current zoom. */
  imagePxPerScreenPx(): number;
  /** The level-0 pixels the view shows. */
  visibleBox(): PixelBox;
  mpp(): number | null;
  /** Name of the class given to new objects and painted. */
  currentClass(): string | null;
  /** The palette entry of the current class (with its mask id once the server's palette is in). */
  currentPaletteClass(): AnnotationClass | undefined;
  palette(): readonly AnnotationClass[];
  commit(edit: Edit, label: string): void;
  redraw(): void;
  /** Handles the layer should not draw (they are being moved and drawn by the tool). */
  hide(handles: Handle[]): void;
  newRecord(kind: AnnotationKind, geometry: Geometry): AnnotationRecord;
  /** What the tool shows in its panel section (ToolSpec.panel) changed: the panel renders it again. */
  panelChanged(): void;
  /** A message for the user in a panel section (the active tool's by default; null clears it). */
  notify(message: string | null, section?: ToolSection): void;
  /** This annotator's mask (null when the server keeps none). */
  mask: MaskEditing | null;
  /** Brush size and the other painting choices, shared by the paint tools and the panel. */
  paint: PaintSettings;
  /** Resolves (with the time) once these level-0 mask tiles are drawn on screen, when in view. */
  maskShown(keys: string[]): Promise<number>;
  /** Reviews on this slide (null when the viewer does not know its project). */
  review: ReviewHost | null;
  /** Visibility, lock and opacity per class (the Layers table): locked classes are not edited. */
  layers: ClassLayers;
  /** The slide's model runs and their predictions, for triage (absent: not available here). */
  models?: ModelContext;
}

export type Overlay = (ctx: CanvasRenderingContext2D, toScreen: (x: number, y: number) => [number, number]) => void;

export interface Tool {
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
  /** Why the tool cannot be used now (beyond its magnification range), or null. */
  unavailable?(): string | null;
  /** Draws the gesture in progress (canvas px = toScreen(image px)). */
  drawOverlay?: Overlay;
  /** The tool is being left: finish (commit) what can be finished, never drop it silently. */
  finish?(): void;
}
