/**
 * A press-drag-release gesture between two points (rectangle, ellipse,
 * ruler): the drag previews, the release commits through `finish`, which
 * each tool writes.
 */
import type { ImagePoint, Tool, ToolContext } from './tool.js';

export abstract class DragGesture implements Tool {
  protected a: ImagePoint | null = null;
  protected b: ImagePoint | null = null;

  constructor(protected readonly ctx: ToolContext) {}

  press(p: ImagePoint): boolean {
    this.a = p;
    this.b = p;
    return true;
  }

  drag(p: ImagePoint): void {
    this.b = p;
    this.ctx.redraw();
  }

  release(p: ImagePoint): void {
    this.b = p;
    this.finish();
  }

  /** Commits the gesture when it is big enough, and ends it. */
  abstract finish(): void;
}
