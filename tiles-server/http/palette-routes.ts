/**
 * Class palette routes: each project's palette (managers and admins change
 * it), the palette of the project a slide is opened in (what the viewer
 * loads), and GET/PUT /api/classes, which name the Default project's
 * palette as they named the one global palette before projects had their
 * own. Classes carry their mask id (`id`), which the server gives and a
 * name keeps on the whole server (store/project-palettes.ts). Changes are
 * audited by the dispatcher (a project-scoped PUT).
 */
import type { ClassUse } from '../../src/core/class-usage.js';
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import type { ProjectScope } from '../identity/access-service.js';
import type { AnnotationStore, RegisteredClass } from '../store/annotation-store.js';
import type { Project } from '../store/identity-store.js';
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
  /** Labelled mask pixels per class id of a project slide (every annotator's). */
  classPixels: (projectSlideId: string) => Readonly<Record<string, number>>;
  /** The project-slide ids of a project. */
  projectSlides: (project: Project) => Promise<string[]>;
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
      // what uses each class on the project's slides, for a manager about to remove or change one
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/classes/usage$`),
      access: { project: 0, action: 'manage' },
      auditReads: true,
      handler: async (ctx) => {
        const project = projectOf(ctx);
        const slides = await o.projectSlides((ctx.auth.project as ProjectScope).project);
        const names = new Map(store().everyClassId().map((c) => [String(c.id), c.name]));
        sendJson(ctx.res, 200, { project, slides: slides.length, ...classUsage(store().palettes.of(project), slides, (id) => store().classCounts(id), o.classPixels, names) });
      },
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

/**
 * Each class's use on a project's slides: the palette's classes in their
 * order (unused ones with zeros), then the classes objects or masks use
 * that the palette no longer has, by name. Objects without a class are
 * counted apart.
 */
export function classUsage(
  palette: readonly RegisteredClass[],
  slides: readonly string[],
  objectsOf: (slide: string) => Array<{ name: string | null; n: number }>,
  pixelsOf: (slide: string) => Readonly<Record<string, number>>,
  nameOfId: ReadonlyMap<string, string>,
): { classes: ClassUse[]; unclassified: number } {
  const uses = new Map<string, ClassUse>();
  const use = (name: string): ClassUse => {
    let u = uses.get(name);
    if (!u) uses.set(name, (u = { name, id: null, inPalette: false, objects: 0, labelledPx: 0, slides: 0 }));
    return u;
  };
  for (const c of palette) Object.assign(use(c.name), { id: c.id, inPalette: true });
  let unclassified = 0;
  for (const slide of slides) {
    const seen = new Set<ClassUse>();
    for (const { name, n } of objectsOf(slide)) {
      if (name === null || name === '') {
        unclassified += n;
        continue;
      }
      const u = use(name);
      u.objects += n;
      seen.add(u);
    }
    for (const [id, n] of Object.entries(pixelsOf(slide))) {
      const u = use(nameOfId.get(id) ?? `mask id ${id}`);
      if (u.id === null) u.id = Number(id);
      u.labelledPx += n;
      seen.add(u);
    }
    for (const u of seen) u.slides++;
  }
  return { classes: [...uses.values()], unclassified };
}
