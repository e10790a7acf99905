/**
 * The annotation listing in the binary columnar form (issue 13; format in
 * src/core/columnar-pages.ts and the README's Formats): the same pages,
 * cursor, filters (layer, bbox, import) and visibility rules as the JSON
 * listing (annotation-routes.ts), one WSCA frame per page, so a browser
 * loads a million predicted cells without parsing JSON. The JSON listing
 * stays for single objects and small pages. `v` names the frame version the
 * client reads: another than 1 is 406 NOT_ACCEPTABLE, before anything is read.
 * Reading every object of a slide is audited (as a read) page by page.
 */
import { COLUMNAR_MEDIA_TYPE, COLUMNAR_VERSION } from '../../src/core/columnar-pages.js';
import { columnarPage } from '../columnar-listing.js';
import { WsiError } from '../../src/core/errors.js';
import type { AnnotationService } from '../annotation-service.js';
import { listingOptions, visibleTo } from './annotation-routes.js';
import { sendBytes } from './respond.js';
import { principal, slideScope, type Route } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
/** Objects per frame when the client does not say (the store's own cap is 100,000). */
export const COLUMNAR_PAGE = 50_000;

export function columnarRoutes(svc: AnnotationService): Route[] {
  return [
    {
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${SLIDE}/annotations-columnar$`),
      access: { slide: 0, action: 'view' },
      auditReads: true,
      handler: async (ctx) => {
        const q = ctx.url.searchParams;
        const v = q.get('v');
        if (v !== String(COLUMNAR_VERSION)) throw new WsiError('NOT_ACCEPTABLE', `v must name the frame version the client reads; this server writes version ${COLUMNAR_VERSION}`, { versions: [COLUMNAR_VERSION] });
        const slideId = await svc.slide(slideScope(ctx));
        const opts = listingOptions(q);
        const seesAll = slideScope(ctx).seesOthers;
        const total = seesAll ? svc.store.count(slideId) : svc.store.countBy(slideId, principal(ctx).user.id);
        const frame = columnarPage(svc.store, slideId, { ...opts, limit: opts.limit ?? COLUMNAR_PAGE }, seesAll, (a) => visibleTo(ctx, a), total);
        sendBytes(ctx.req, ctx.res, `${COLUMNAR_MEDIA_TYPE}; version=${COLUMNAR_VERSION}`, frame);
      },
    },
  ];
}
