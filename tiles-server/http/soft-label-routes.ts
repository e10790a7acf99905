/**
 * The soft-label export route (issue 14): the readers' per-pixel votes
 * inside an ROI as a multi-channel TIFF (soft-label-service.ts). It shows
 * every reader's work, so it needs the 'review' action like the other
 * agreement routes (annotators and viewers get 403, blind projects
 * included: AGR-06); each export writes an audit record. The file name
 * follows download-name.ts (a study code in blind projects).
 */
import type { SoftLabelService } from '../soft-label-service.js';
import { downloadName } from './download-name.js';
import { sendExport } from './send-export.js';
import { principal, slideScope, type Route } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';

export function softLabelRoutes(svc: SoftLabelService): Route[] {
  return [
    {
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${SLIDE}/agreement/soft-labels\\.tiff?$`),
      access: { slide: 0, action: 'review' },
      handler: async (ctx) => {
        const q = ctx.url.searchParams;
        const file = await svc.exportTiff(slideScope(ctx), principal(ctx).user.id, { roi: q.get('roi'), readers: q.get('readers') }, ctx.signal);
        await sendExport(ctx, file, 'image/tiff', downloadName(slideScope(ctx), undefined, 'soft-labels', 'tiff'));
      },
    },
  ];
}
