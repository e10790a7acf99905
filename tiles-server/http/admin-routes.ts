/**
 * People and projects: admins manage accounts and create projects; a
 * project's managers manage its members, slides and settings; members list
 * their project's slides. Each change is audited with ids only.
 */
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import type { AccessService } from '../identity/access-service.js';
import { normalizeUsername, type AuthService } from '../identity/auth-service.js';
import { newId } from '../identity/secrets.js';
import type { SlideRegistry } from '../slides/registry.js';
import { EDITING_MODES, GLOBAL_ROLES, PROJECT_ROLES, type EditingMode, type GlobalRole, type ProjectRole } from '../store/identity-store.js';
import { publicUser } from './auth-routes.js';
import { clientAddress } from './authorize.js';
import { readJson } from './body.js';
import { sendJson } from './respond.js';
import type { Route, RouteContext } from './routes.js';

const MAX_BODY = 64 * 1024;
const UID = '([A-Za-z0-9-]{8,64})';
const PID = '([A-Za-z0-9-]{1,64})';
const SID = '([A-Za-z0-9]{1,64})';

export interface AdminRoutesOptions {
  auth: AuthService;
  access: AccessService;
  registry: SlideRegistry;
  audit: (e: AuditEvent) => void;
  trustProxy: boolean;
}

function body(b: unknown): Record<string, unknown> {
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new WsiError('BAD_REQUEST', 'send a JSON object');
  return b as Record<string, unknown>;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw new WsiError('BAD_REQUEST', `${what} must be one of ${allowed.join(', ')}`);
  return v as T;
}

function projectName(v: unknown): string {
  if (typeof v !== 'string' || !/^[^\p{Cc}]{1,128}$/u.test(v.trim())) throw new WsiError('BAD_REQUEST', 'a project name is 1–128 printable characters');
  return v.trim();
}

function studyCode(v: unknown): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(v)) throw new WsiError('BAD_REQUEST', 'a study code is 1–64 letters, digits, . _ - (no names: it is shown in blind projects)');
  return v;
}

export function adminRoutes(o: AdminRoutesOptions): Route[] {
  const actor = (ctx: RouteContext): string => ctx.auth.principal?.user.id ?? '';
  const ip = (ctx: RouteContext): string => clientAddress(ctx.req, o.trustProxy);
  const now = (): string => new Date().toISOString();
  return [
    {
      method: 'GET',
      pattern: /^\/api\/admin\/users$/,
      access: { global: ['admin', 'auditor'] },
      handler: async (ctx) => {
        const users = (await o.auth.store.listUsers()).filter((u) => !u.legacy);
        sendJson(ctx.res, 200, { users: users.map((u) => ({ ...publicUser(u), disabled: u.disabled, createdAt: u.createdAt, lastLoginAt: u.lastLoginAt })) });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/admin\/users$/,
      access: { global: ['admin'] },
      handler: async (ctx) => {
        const b = body(await readJson(ctx.req, MAX_BODY, ctx.signal));
        const user = await o.auth.createUser({
          username: normalizeUsername(b['username']),
          ...(typeof b['displayName'] === 'string' ? { displayName: b['displayName'] } : {}),
          password: typeof b['password'] === 'string' ? b['password'] : null,
          globalRole: b['globalRole'] === undefined ? 'user' : oneOf<GlobalRole>(b['globalRole'], GLOBAL_ROLES, 'globalRole'),
        });
        o.audit({ actor: actor(ctx), action: 'user.create', target: user.id, ip: ip(ctx), detail: { globalRole: user.globalRole } });
        sendJson(ctx.res, 201, { user: publicUser(user) });
      },
    },
    {
      method: 'PATCH',
      pattern: new RegExp(`^/api/admin/users/${UID}$`),
      access: { global: ['admin'] },
      handler: async (ctx) => {
        const id = ctx.params[0] as string;
        const user = await o.auth.store.userById(id);
        if (!user || user.legacy) throw new WsiError('USER_NOT_FOUND', 'no such user');
        const b = body(await readJson(ctx.req, MAX_BODY, ctx.signal));
        if (b['disabled'] !== undefined) {
          if (typeof b['disabled'] !== 'boolean') throw new WsiError('BAD_REQUEST', 'disabled must be true or false');
          if (b['disabled'] && id === actor(ctx)) throw new WsiError('BAD_REQUEST', 'you cannot disable your own account');
          await o.auth.setDisabled(id, b['disabled']);
        }
        if (b['globalRole'] !== undefined) {
          const role = oneOf<GlobalRole>(b['globalRole'], GLOBAL_ROLES, 'globalRole');
          if (id === actor(ctx) && role !== 'admin') throw new WsiError('BAD_REQUEST', 'you cannot take away your own admin role');
          await o.auth.store.updateUser(id, { globalRole: role });
          await o.auth.revokeUser(id);
        }
        if (b['password'] !== undefined) {
          if (typeof b['password'] !== 'string') throw new WsiError('BAD_REQUEST', 'password must be a string');
          await o.auth.setPassword(id, b['password']);
        }
        if (b['resetTotp'] === true) {
          await o.auth.store.updateUser(id, { totpSecret: null, totpLastStep: 0 });
          await o.auth.revokeUser(id);
        }
        o.audit({
          actor: actor(ctx),
          action: 'user.update',
          target: id,
          ip: ip(ctx),
          detail: {
            disabled: typeof b['disabled'] === 'boolean' ? b['disabled'] : null,
            globalRole: typeof b['globalRole'] === 'string' ? b['globalRole'] : null,
            password: b['password'] !== undefined,
            resetTotp: b['resetTotp'] === true,
          },
        });
        o.access.invalidate();
        const after = await o.auth.store.userById(id);
        sendJson(ctx.res, 200, { user: after ? { ...publicUser(after), disabled: after.disabled } : null });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/admin\/slides$/,
      access: { global: ['admin'] },
      handler: async (ctx) => {
        await o.registry.scan();
        sendJson(ctx.res, 200, { slides: o.registry.list().map((e) => ({ id: e.id, name: e.name, format: e.format, bytes: e.size })) });
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/projects$/,
      access: { signedIn: true },
      handler: async (ctx) => {
        const mine = await o.access.projectsOf(ctx.auth.principal as NonNullable<typeof ctx.auth.principal>);
        sendJson(ctx.res, 200, { projects: mine.map(({ project, role }) => ({ ...project, role })) });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/projects$/,
      access: { global: ['admin'] },
      handler: async (ctx) => {
        const b = body(await readJson(ctx.req, MAX_BODY, ctx.signal));
        const name = projectName(b['name']);
        if (await o.auth.store.projectByName(name)) throw new WsiError('CONFLICT', 'a project with that name exists');
        const project = {
          id: newId(),
          name,
          editingMode: b['editingMode'] === undefined ? ('classic' as const) : oneOf<EditingMode>(b['editingMode'], EDITING_MODES, 'editingMode'),
          blind: b['blind'] === true,
          allSlides: false,
          createdAt: now(),
        };
        await o.auth.store.createProject(project);
        o.audit({ actor: actor(ctx), action: 'project.create', projectId: project.id, target: project.id, ip: ip(ctx), detail: { editingMode: project.editingMode, blind: project.blind } });
        o.access.invalidate();
        sendJson(ctx.res, 201, { project });
      },
    },
    {
      method: 'PATCH',
      pattern: new RegExp(`^/api/projects/${PID}$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const scope = ctx.auth.project as NonNullable<typeof ctx.auth.project>;
        const b = body(await readJson(ctx.req, MAX_BODY, ctx.signal));
        const patch = {
          ...(b['name'] !== undefined ? { name: projectName(b['name']) } : {}),
          ...(b['editingMode'] !== undefined ? { editingMode: oneOf<EditingMode>(b['editingMode'], EDITING_MODES, 'editingMode') } : {}),
          ...(b['blind'] !== undefined ? { blind: b['blind'] === true } : {}),
        };
        await o.auth.store.updateProject(scope.project.id, patch);
        o.access.invalidate();
        o.audit({ actor: actor(ctx), action: 'project.update', projectId: scope.project.id, target: scope.project.id, ip: ip(ctx), detail: { editingMode: patch.editingMode ?? null, blind: patch.blind ?? null, renamed: patch.name !== undefined } });
        sendJson(ctx.res, 200, { project: await o.auth.store.projectById(scope.project.id) });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/members$`),
      access: { project: 0, action: 'view' },
      handler: async (ctx) => {
        const scope = ctx.auth.project as NonNullable<typeof ctx.auth.project>;
        const members = await o.auth.store.membersOf(scope.project.id);
        const users = await Promise.all(members.map((m) => o.auth.store.userById(m.userId)));
        sendJson(ctx.res, 200, {
          members: members.map((m, i) => ({ userId: m.userId, username: users[i]?.username ?? null, displayName: users[i]?.displayName ?? null, role: m.role, addedAt: m.addedAt })),
        });
      },
    },
    {
      method: 'PUT',
      pattern: new RegExp(`^/api/projects/${PID}/members/${UID}$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const scope = ctx.auth.project as NonNullable<typeof ctx.auth.project>;
        const userId = ctx.params[1] as string;
        const user = await o.auth.store.userById(userId);
        if (!user || user.legacy) throw new WsiError('USER_NOT_FOUND', 'no such user');
        const role = oneOf<ProjectRole>(body(await readJson(ctx.req, MAX_BODY, ctx.signal))['role'], PROJECT_ROLES, 'role');
        await o.auth.store.setMember({ projectId: scope.project.id, userId, role, addedAt: now() });
        o.access.invalidate();
        o.audit({ actor: actor(ctx), action: 'member.set', projectId: scope.project.id, target: userId, ip: ip(ctx), detail: { role } });
        sendJson(ctx.res, 200, { projectId: scope.project.id, userId, role });
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/api/projects/${PID}/members/${UID}$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const scope = ctx.auth.project as NonNullable<typeof ctx.auth.project>;
        const userId = ctx.params[1] as string;
        await o.auth.store.removeMember(scope.project.id, userId);
        o.access.invalidate();
        o.audit({ actor: actor(ctx), action: 'member.remove', projectId: scope.project.id, target: userId, ip: ip(ctx) });
        sendJson(ctx.res, 200, { removed: userId });
      },
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/projects/${PID}/slides$`),
      access: { project: 0, action: 'view' },
      handler: async (ctx) => {
        const scope = ctx.auth.project as NonNullable<typeof ctx.auth.project>;
        await o.registry.scan();
        const names = scope.role === 'manager' || !scope.project.blind;
        const slides = await o.access.slidesOf(scope.project, () => o.registry.list().map((e) => e.id));
        sendJson(ctx.res, 200, {
          slides: slides.map((s) => ({ id: s.id, studyCode: s.studyCode, name: names ? (o.registry.entry(s.slideId)?.name ?? null) : null, present: o.registry.entry(s.slideId) !== undefined })),
        });
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/api/projects/${PID}/slides$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const scope = ctx.auth.project as NonNullable<typeof ctx.auth.project>;
        if (scope.project.allSlides) throw new WsiError('BAD_REQUEST', 'this project holds every slide of the folder');
        const b = body(await readJson(ctx.req, MAX_BODY, ctx.signal));
        const slideId = typeof b['slideId'] === 'string' && /^[A-Za-z0-9]{1,64}$/.test(b['slideId']) ? b['slideId'] : null;
        await o.registry.scan();
        if (!slideId || !o.registry.entry(slideId)) throw new WsiError('SLIDE_NOT_FOUND', 'no slide with that id in the slide folder');
        const existing = (await o.auth.store.projectSlidesOf(scope.project.id)).length;
        const code = b['studyCode'] === undefined ? `${scope.project.name.replace(/[^A-Za-z0-9]/g, '').slice(0, 8).toUpperCase() || 'S'}-${String(existing + 1).padStart(4, '0')}` : studyCode(b['studyCode']);
        const ps = { id: newId().replace(/-/g, ''), projectId: scope.project.id, slideId, studyCode: code, addedAt: now() };
        try {
          await o.auth.store.addProjectSlide(ps);
          o.access.invalidate();
        } catch (err) {
          if (/UNIQUE/.test((err as Error).message)) throw new WsiError('CONFLICT', 'the slide or the study code is already in this project');
          throw err;
        }
        o.audit({ actor: actor(ctx), action: 'project.slide.add', projectId: scope.project.id, target: ps.id, ip: ip(ctx), detail: { slide: slideId } });
        sendJson(ctx.res, 201, { id: ps.id, studyCode: ps.studyCode });
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/api/projects/${PID}/slides/${SID}$`),
      access: { project: 0, action: 'manage' },
      handler: async (ctx) => {
        const scope = ctx.auth.project as NonNullable<typeof ctx.auth.project>;
        const ps = await o.auth.store.projectSlideById(ctx.params[1] as string);
        if (!ps || ps.projectId !== scope.project.id) throw new WsiError('SLIDE_NOT_FOUND', 'no such slide in this project');
        await o.auth.store.removeProjectSlide(scope.project.id, ps.slideId);
        o.access.invalidate();
        o.audit({ actor: actor(ctx), action: 'project.slide.remove', projectId: scope.project.id, target: ps.id, ip: ip(ctx) });
        sendJson(ctx.res, 200, { removed: ps.id });
      },
    },
  ];
}
