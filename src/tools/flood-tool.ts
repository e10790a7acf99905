/**
 * Fill region (`q`): flood-fills the closed painted region under the click
 * with the current class (4-connected, within the view; a region that runs
 * out of the view is refused and nothing is painted).
 */
import { maskClassId } from '../core/annotation.js';
import { paintUnavailable } from './brush-tool.js';
import { registerTool } from './registry.js';
import type { ImagePoint, Tool, ToolContext } from './tool.js';

export class FloodTool implements Tool {
  constructor(private readonly ctx: ToolContext) {}

  unavailable(): string | null {
    return paintUnavailable(this.ctx);
  }

  click(p: ImagePoint): void {
    this.ctx.notify(null);
    void this.fill(p).then((refused) => this.ctx.notify(refused));
  }

  private async fill(p: ImagePoint): Promise<string | null> {
    const value = maskClassId(this.ctx.currentPaletteClass());
    const mask = this.ctx.mask;
    if (!mask || value === null) return this.unavailable() ?? 'Choose a class to paint.';
    const out = await mask.flood(p.x, p.y, value, this.ctx.visibleBox());
    if (out.refused) return out.refused;
    await this.ctx.maskShown(out.keys);
    return null;
  }
}

registerTool({ id: 'flood', label: 'Fill region', icon: '◧', key: 'q', cursor: 'crosshair', section: 'paint', magnification: { min: 'paint-min' }, create: (ctx) => new FloodTool(ctx) });
