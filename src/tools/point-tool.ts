/** The point tool (`k`): each click adds a point of the current class. */
import { registerTool } from './registry.js';
import type { ImagePoint, Tool, ToolContext } from './tool.js';

export class PointTool implements Tool {
  constructor(private readonly ctx: ToolContext) {}

  click(p: ImagePoint): void {
    this.ctx.commit({ create: [this.ctx.newRecord('point', { type: 'Point', coordinates: [p.x, p.y] })] }, 'Add point');
  }
}

registerTool({ id: 'point', label: 'Point', icon: '•', key: 'k', cursor: 'crosshair', section: 'annotate', create: (ctx) => new PointTool(ctx) });
