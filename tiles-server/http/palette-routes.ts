/**
 * Class palette routes: each project's palette (managers and admins change
 * it), the palette of the project a slide is opened in (what the viewer
 * loads), and GET/PUT /api/classes, which name the Default project's
 * palette as they named the one global palette before projects had their
 * own. Classes carry their mask id (`id`), which the server gives and a
 * name keeps on the whole server (store/project-palettes.ts). Changes are
 * audited by the dispatcher (a project-scoped PUT).
 */
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import type { AnnotationStore, RegisteredClass } from '../store/annotation-store.js';
import { parsePalette } from '../store/project-palettes.js';
import { clientAddress } from './authorize.js';
import { readJson } from './body.js';
import { sendJson } from './respond.js';
import { slideScope, type Route, type RouteContext } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
const PID = '([A-Za-z0-9-]{1,64})';
const MAX_BODY = 1 << 20;

function projectOf(ctx: RouteContext): string {
  const p = ctx.auth.project;
  if (!p) throw new WsiError('INTERNAL', 'this route has no project rule');
  return p.project.id;
}

export interface PaletteRoutesOptions {
  store: AnnotationStore;
  audit: (e: AuditEvent) => void;
  trustProxy: boolean;
}

export function paletteRoutes(o: PaletteRoutesOptions): Route[] {
  // read at request time: the route walk (tests/helpers/route-walk.ts) builds the table without a store
  const store = (): AnnotationStore => o.store;
  /** One record per palette change: the mask ids in their new order (ids, not names). */
  const audited = (ctx: RouteContext, projectId: string | null, classes: RegisteredClass[]): void =>
    o.audit({
      actor: ctx.auth.principal?.user.id ?? null,
      action: 'palette.change',
      projectId,
      target: projectId,
      ip: clientAddress(ctx.req, o.trustProxy),
      detail: { ids: classes.map((c) => c.id).join(','), count: classes.length },
    });
  const read = async (ctx: RouteContext): Promise<ReturnType<typeof parsePalette>> =>
    parsePalette(await readJson(ctx.req, MAX_BODY, ctx.signal), (name) => store().classIdOf(name));
  /** The Default project's palette, or the starting palette before there is one. */
  const defaultPalette = (): RegisteredClass[] => {
    const d = store().palettes.defaultProject();
    return d === null ? store().classes() : store().palettes.of(d);
  };
  return [
    {
      method: 'GET',
      pattern: /^\/api\/classes$/,
      access: { signedIn: true },
      handler: async (ctx) => sendJson(ctx.res, 200, { classes: defaultPalette() }),
    },
    {
      method: 'PUT',
      pattern: /^\/api\/classes$/,
      // the Default project's palette under its old name; its managers change it through /api/projects/{id}/classes
      access: { global: ['admin'] },
      handler: async (ctx) => {
        const classes = await read(ctx);
        const d = store().palettes.defaultProject();
        if (d === null) store().setClasses(classes);
        else store().palettes.set(d, classes);
        const now = defaultPalette();
        audited(ctx, d, now);
        sendJson(ctx.res, 200, { classes: now });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/slides/${SLIDE}/classes$`),
      access: { slide: 0, action: 'view' },
      handler: async (ctx) => {
        const scope = slideScope(ctx);
        sendJson(ctx.res, 200, { project: scope.project.id, classes: store().palettes.of(scope.project.id) });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/classes$`),
      access: { project: 0, action: 'view' },
      handler: async (ctx) => sendJson(ctx.res, 200, { project: projectOf(ctx), classes: store().palettes.of(projectOf(ctx)) }),
    },
    {
      method: 'PUT',
      pattern: new RegExp(`^/api/projects/${PID}/classes$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const project = projectOf(ctx);
        const classes = store().palettes.set(project, await read(ctx));
        audited(ctx, project, classes);
        sendJson(ctx.res, 200, { project, classes });
      },
    },
  ];
}
