/**
 * POST /api/projects/{id}/classes/relabel (issue 11): a manager merges a
 * class into another ({"from", "into"}) or renames one ({"from",
 * "rename"}), carrying its objects and mask pixels on every slide of the
 * project (class-relabel-service.ts); `?dryRun=1` answers what would change
 * and writes nothing. The access rule is the palette's (`manage`); besides
 * the dispatcher's record, a `class.relabel` record names the mask ids and
 * the counts (ids and counts only, like palette.change). A change needs an
 * Idempotency-Key; the same key again replays the first answer (with
 * `replayed: true`), and no second class.relabel record is written.
 */
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import type { ProjectScope } from '../identity/access-service.js';
import { parseRelabel, type ClassRelabelService } from '../class-relabel-service.js';
import { clientAddress } from './authorize.js';
import { operationId, readJson } from './body.js';
import { sendJson } from './respond.js';
import { principal, type Route } from './routes.js';

const PID = '([A-Za-z0-9-]{1,64})';
const MAX_BODY = 16 * 1024;

export interface ClassRelabelRoutesOptions {
  service: ClassRelabelService;
  audit: (e: AuditEvent) => void;
  trustProxy: boolean;
}

export function classRelabelRoutes(o: ClassRelabelRoutesOptions | undefined): Route[] {
  return [
    {
      method: 'POST',
      pattern: new RegExp(`^/api/projects/${PID}/classes/relabel$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        if (!o) throw new WsiError('NOT_FOUND', 'class merge and rename are not available on this server');
        const scope = ctx.auth.project as ProjectScope | undefined;
        if (!scope) throw new WsiError('INTERNAL', 'this route has no project rule');
        const req = parseRelabel(await readJson(ctx.req, MAX_BODY, ctx.signal));
        const dryRun = ctx.url.searchParams.get('dryRun') === '1';
        const opId = dryRun ? null : operationId(ctx.req);
        const before = opId ? o.service.replay(scope.project, opId, req) : null;
        if (before) {
          sendJson(ctx.res, 200, { ...before, replayed: true });
          return;
        }
        const plan = await o.service.prepare(scope.project, req, ctx.signal);
        const count = (f: (s: (typeof plan.slides)[number]) => number): number => plan.slides.reduce((n, s) => n + f(s), 0);
        if (!opId) {
          sendJson(ctx.res, 200, {
            dryRun: true,
            mode: plan.mode,
            from: { name: plan.from.name, id: plan.from.id },
            to: { name: plan.target, id: plan.targetId },
            slides: plan.slides.length,
            objects: count((s) => s.objects.length),
            predictionsLeft: count((s) => s.predictions),
            tiles: count((s) => s.tiles.length),
            pixels: count((s) => s.tiles.reduce((n, t) => n + t.relabelled, 0)),
          });
          return;
        }
        const actor = principal(ctx).user.id;
        const answer = o.service.commit(plan, actor, opId);
        if (answer.replayed) {
          sendJson(ctx.res, 200, answer);
          return;
        }
        o.audit({
          actor,
          action: 'class.relabel',
          projectId: scope.project.id,
          target: scope.project.id,
          ip: clientAddress(ctx.req, o.trustProxy),
          detail: { mode: answer.mode, fromId: answer.from.id, toId: answer.to.id, slides: answer.slides, objects: answer.objects, tiles: answer.tiles, pixels: answer.pixels },
        });
        sendJson(ctx.res, 200, answer);
      },
    },
  ];
}
