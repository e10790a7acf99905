/**
 * Agreement routes (issue 14, docs/agreement.md): the metrics of several
 * readers' masks inside a shared ROI (JSON, or CSV tables), the
 * disagreement map (its description and its PNG tiles) and who said what
 * at a point; the matching of readers' cells and points inside the ROI. All need the 'review' action: only reviewers and managers,
 * who see every reader's work (in blind projects too), so no annotator or
 * viewer learns another reader's work through them (AGR-06). Every
 * computation and map build writes an audit record (agreement-service.ts),
 * and the JSON and point answers are audited as reads too.
 */
import { WsiError } from '../../src/core/errors.js';
import type { AgreementService } from '../agreement-service.js';
import { classTableCsv, CSV_METRICS, CSV_TABLES, readerMatrixCsv } from '../agreement/agreement-csv.js';
import { attachment, downloadName } from './download-name.js';
import { sendBytes, sendJson } from './respond.js';
import { principal, slideScope, type Route } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';

function oneOf<T extends string>(v: string | null, allowed: readonly T[], fallback: T, what: string): T {
  if (v === null || v === '') return fallback;
  if (!(allowed as readonly string[]).includes(v)) throw new WsiError('BAD_REQUEST', `${what} is one of ${allowed.join(', ')}`);
  return v as T;
}

function coordinate(v: string | null, what: string): number {
  if (v === null || !/^\d{1,10}$/.test(v)) throw new WsiError('BAD_REQUEST', `${what} must be a non-negative integer (level-0 pixels)`);
  return Number(v);
}

function index(s: string, what: string, max: number): number {
  if (!/^\d{1,7}$/.test(s) || Number(s) > max) throw new WsiError('BAD_REQUEST', `${what} must be an integer from 0 to ${max}`);
  return Number(s);
}

export function agreementRoutes(svc: AgreementService): Route[] {
  const base = `^/api/slides/${SLIDE}/agreement`;
  const review = { slide: 0, action: 'review' } as const;
  return [
    {
      method: 'GET',
      pattern: new RegExp(`${base}$`),
      access: review,
      auditReads: true,
      handler: async (ctx) => {
        const q = ctx.url.searchParams;
        const format = oneOf(q.get('format'), ['json', 'csv'] as const, 'json', 'format');
        const table = oneOf(q.get('table'), CSV_TABLES, 'classes', 'table');
        const metric = oneOf(q.get('metric'), CSV_METRICS, 'kappa', 'metric');
        const report = await svc.compute(slideScope(ctx), principal(ctx).user.id, { roi: q.get('roi'), readers: q.get('readers') }, ctx.signal);
        if (format === 'json') return sendJson(ctx.res, 200, report);
        const csv = table === 'classes' ? classTableCsv(report) : readerMatrixCsv(report, metric);
        const name = downloadName(slideScope(ctx), undefined, table === 'classes' ? 'agreement-classes' : `agreement-${metric}`, 'csv');
        sendBytes(ctx.req, ctx.res, 'text/csv; charset=utf-8', csv, { extraHeaders: { 'Content-Disposition': attachment(name) } });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/map$`),
      access: review,
      auditReads: true,
      handler: async (ctx) => {
        const { map, readers } = await svc.map(slideScope(ctx), principal(ctx).user.id, ctx.url.searchParams.get('readers'));
        sendJson(ctx.res, 200, { readers, ...map.describe() });
      },
    },
    {
      // a tile of the map: not audited one by one (the map's build is, once per set of readers and mask versions)
      method: 'GET',
      pattern: new RegExp(`${base}/map/([^/]{1,8})/([^/]{1,8})/([^/]{1,12})\\.png$`),
      access: review,
      handler: async (ctx) => {
        const level = index(ctx.params[1] as string, 'level', 64);
        const col = index(ctx.params[2] as string, 'col', 1_000_000);
        const row = index(ctx.params[3] as string, 'row', 1_000_000);
        const { map } = await svc.map(slideScope(ctx), principal(ctx).user.id, ctx.url.searchParams.get('readers'));
        const png = await map.png(level, col, row);
        sendBytes(ctx.req, ctx.res, 'image/png', png, { cacheControl: 'private, no-cache', extraHeaders: { Vary: 'Cookie, Authorization' } });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/objects$`),
      access: review,
      auditReads: true,
      handler: async (ctx) => {
        const q = ctx.url.searchParams;
        sendJson(ctx.res, 200, await svc.objects(slideScope(ctx), principal(ctx).user.id, { roi: q.get('roi'), readers: q.get('readers'), kind: q.get('kind'), iou: q.get('iou'), distanceUm: q.get('distanceUm') }));
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`${base}/point$`),
      access: review,
      auditReads: true,
      handler: async (ctx) => {
        const q = ctx.url.searchParams;
        sendJson(ctx.res, 200, await svc.point(slideScope(ctx), q.get('readers'), coordinate(q.get('x'), 'x'), coordinate(q.get('y'), 'y')));
      },
    },
  ];
}
