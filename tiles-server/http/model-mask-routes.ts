/**
 * AI-mask routes of model runs (issue 13, docs/ai-corrections.md "AI
 * masks"): import a run's mask (a label image, or one probability map per
 * class), read its record, and derive one's corrected layer from it. The
 * model's layer itself is read (tiles, history, export) through the mask
 * routes as annotator `@model:<run>`, and refused to writers there
 * (MODEL_MASK_READ_ONLY). Every route has its access rule here; changes are
 * audited by the dispatcher, the record read as a read.
 */
import { rm } from 'node:fs/promises';
import { WsiError } from '../../src/core/errors.js';
import type { ModelMaskService, MaskBody } from '../model-mask-service.js';
import { receiveMaps, removeMaps } from '../masks/map-upload.js';
import { receiveUpload } from '../masks/upload.js';
import type { OperationResult } from '../store/mask-store.js';
import { operationId } from './body.js';
import { sendJson } from './respond.js';
import { principal, slideScope, type Route, type RouteContext } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
const RUN = '([A-Za-z0-9-]{8,64})';
const FORMS = ['label-image', 'probability-maps'] as const;

function sendResult(ctx: RouteContext, r: OperationResult): void {
  sendJson(ctx.res, r.body['replayed'] === true && r.status === 201 ? 200 : r.status, r.body);
}

function downsampleOf(url: URL): number {
  const v = url.searchParams.get('downsample');
  if (v === null || v === '') return 1;
  if (!/^\d{1,5}$/.test(v) || Number(v) < 1 || Number(v) > 65536) throw new WsiError('BAD_REQUEST', `downsample must be an integer from 1 to 65536 (got "${v.slice(0, 20)}")`);
  return Number(v);
}

function minProbabilityOf(url: URL): number | null {
  const v = url.searchParams.get('minProbability');
  if (v === null || v === '') return null;
  const n = Number(v);
  if (!/^[0-9.eE+-]{1,20}$/.test(v) || !Number.isFinite(n) || n < 0 || n > 1) throw new WsiError('BAD_REQUEST', `minProbability must be a number from 0 to 1 (got "${v.slice(0, 20)}")`);
  return n;
}

function classesOf(url: URL): string[] | null {
  const v = url.searchParams.get('classes');
  if (v === null || v === '') return null;
  let list: unknown;
  try {
    list = JSON.parse(v);
  } catch {
    throw new WsiError('BAD_REQUEST', 'classes must be a JSON array of class names');
  }
  if (!Array.isArray(list) || list.length === 0 || list.length > 255 || !list.every((n) => typeof n === 'string' && n.length > 0 && n.length <= 200)) {
    throw new WsiError('BAD_REQUEST', 'classes must be a JSON array of 1 to 255 class names');
  }
  if (new Set(list).size !== list.length) throw new WsiError('BAD_REQUEST', 'classes names a class twice');
  return list as string[];
}

/** The routes are in the table whether or not the service is (the access walk sees them); without it they answer 404. */
export function modelMaskRoutes(service: ModelMaskService | undefined): Route[] {
  const need = (): ModelMaskService => {
    if (!service) throw new WsiError('NOT_FOUND', 'AI masks are not available on this server');
    return service;
  };
  const base = `^/api/slides/${SLIDE}/model-runs/${RUN}/mask`;
  return [
    {
      method: 'GET',
      pattern: new RegExp(`${base}$`),
      access: { slide: 0, action: 'view' },
      auditReads: true,
      handler: async (ctx) => sendJson(ctx.res, 200, await need().describe(slideScope(ctx), ctx.params[1] as string)),
    },
    {
      // ?form=label-image (default: image/png or image/tiff, or a form with a part "image") | probability-maps (a form, one file part per class)
      method: 'POST',
      pattern: new RegExp(`${base}$`),
      access: { slide: 0, action: 'import' },
      handler: async (ctx) => {
        const svc = need();
        const opId = operationId(ctx.req);
        const form = ctx.url.searchParams.get('form') ?? 'label-image';
        if (!(FORMS as readonly string[]).includes(form)) throw new WsiError('BAD_REQUEST', `form is ${FORMS.join(' or ')}`);
        const params = { downsample: downsampleOf(ctx.url), minProbability: minProbabilityOf(ctx.url), classes: classesOf(ctx.url) };
        if (form === 'label-image' && (params.minProbability !== null || params.classes !== null)) throw new WsiError('BAD_REQUEST', 'minProbability and classes go with form=probability-maps');
        let body: MaskBody | null = null;
        const receive = async (): Promise<MaskBody> => {
          body = form === 'label-image' ? { form, upload: await receiveUpload(ctx.req, svc.spoolDir, ctx.signal) } : { form: 'probability-maps', upload: await receiveMaps(ctx.req, svc.spoolDir, ctx.signal) };
          return body;
        };
        let r: OperationResult;
        try {
          r = await svc.importMask(slideScope(ctx), principal(ctx).user.id, opId, ctx.params[1] as string, params, receive);
        } finally {
          // the spooled files are gone before the client hears the answer
          const b = body as MaskBody | null;
          if (b?.form === 'label-image') await rm(b.upload.image.path, { force: true });
          else if (b) await removeMaps(b.upload);
        }
        sendResult(ctx, r);
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`${base}/corrected$`),
      access: { slide: 0, action: 'annotate' },
      handler: async (ctx) => {
        const opId = operationId(ctx.req);
        sendResult(ctx, await need().deriveCorrected(slideScope(ctx), principal(ctx).user.id, opId, ctx.params[1] as string, ctx.signal));
      },
    },
  ];
}
