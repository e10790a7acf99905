/**
 * The soft-label export routes (issue 14): the readers' per-pixel votes or
 * STAPLE posteriors inside an ROI as a multi-channel pyramidal TIFF, and
 * their objects' per-object vote counts as GeoJSON
 * (soft-label-service.ts). They show every reader's work, so they need the
 * 'review' action like the other agreement routes (annotators and viewers
 * get 403, blind projects included: AGR-06); each export writes an audit
 * record. The file names follow download-name.ts (a study code in blind
 * projects).
 */
import type { SoftLabelService } from '../soft-label-service.js';
import { attachment, downloadName } from './download-name.js';
import { sendBytes } from './respond.js';
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
        const file = await svc.exportTiff(slideScope(ctx), principal(ctx).user.id, { roi: q.get('roi'), readers: q.get('readers'), source: q.get('source') }, ctx.signal);
        await sendExport(ctx, file, 'image/tiff', downloadName(slideScope(ctx), undefined, 'soft-labels', 'tiff'));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${SLIDE}/agreement/objects\\.geojson$`),
      access: { slide: 0, action: 'review' },
      handler: async (ctx) => {
        const q = ctx.url.searchParams;
        const fc = await svc.objectVotes(slideScope(ctx), principal(ctx).user.id, { roi: q.get('roi'), readers: q.get('readers'), kind: q.get('kind'), iou: q.get('iou'), distanceUm: q.get('distanceUm') });
        const name = downloadName(slideScope(ctx), undefined, 'object-votes', 'geojson');
        sendBytes(ctx.req, ctx.res, 'application/geo+json', JSON.stringify(fc), { extraHeaders: { 'Content-Disposition': attachment(name) } });
      },
    },
  ];
}
