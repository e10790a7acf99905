/**
 * Which projects and slides a principal reaches, and with what role.
 * Resolves a project-slide id (every slide route's id) to its project, the
 * slide in the folder and the caller's role, and answers SLIDE_NOT_FOUND
 * (404) alike for ids that do not exist and for those of projects the
 * caller is not in (SEC-17). Memberships are cached for at most `cacheMs`,
 * so removing someone from a project takes effect within that.
 */
import { WsiError } from '../../src/core/errors.js';
import type { IdentityStore, Member, Project, ProjectRole, ProjectSlide } from '../store/identity-store.js';
import type { Principal } from './auth-service.js';
import { actionsOf, AUDITOR_PROJECT_ACTIONS, implicitRole, seesFileNames, seesOthers, WRITE_ACTIONS, type Action } from './permissions.js';

export interface SlideScope {
  project: Project;
  /** The id in the URL: this slide as a member of this project. */
  projectSlideId: string;
  /** The slide in the folder (tiles, caches). */
  slideId: string;
  studyCode: string;
  role: ProjectRole;
  actions: ReadonlySet<Action>;
  seesOthers: boolean;
  seesFileNames: boolean;
}

export interface ProjectScope {
  project: Project;
  role: ProjectRole;
  actions: ReadonlySet<Action>;
}

/** Study code of a slide of the Default project (its project-slide id is the slide's id). */
export function defaultStudyCode(slideId: string): string {
  return `S-${slideId.slice(0, 8).toUpperCase()}`;
}

export class AccessService {
  private readonly memberships = new Map<string, { at: number; members: Member[] }>();
  /** Project slides and their projects by id (a tile request must not query the store each time). */
  private readonly slides = new Map<string, { at: number; ps: ProjectSlide | null; project: Project | null }>();
  private allSlidesProject: { at: number; project: Project | null } | null = null;
  /**
   * Whether a user who does not see others' work in a blind project sees it
   * on this project slide all the same: they submitted a reading that holds
   * it (review-service.ts). Set once at start.
   */
  unblind: (userId: string, projectSlideId: string) => boolean = () => false;
  /** Moves on at every invalidate(): scopes remembered elsewhere are stale. */
  generation = 0;

  constructor(
    readonly store: IdentityStore,
    /** Whether a slide id names a slide of the folder now. */
    private readonly slideExists: (slideId: string) => Promise<boolean>,
    private readonly cacheMs = 5000,
  ) {}

  /** Drops cached memberships (after a change in this process). */
  invalidate(): void {
    this.generation++;
    this.memberships.clear();
    this.allSlidesProject = null;
    this.slides.clear();
  }

  private async membershipsOf(userId: string): Promise<Member[]> {
    const now = Date.now();
    const hit = this.memberships.get(userId);
    if (hit && hit.at > now - this.cacheMs) return hit.members;
    const members = await this.store.membershipsOf(userId);
    this.memberships.set(userId, { at: now, members });
    return members;
  }

  private async defaultProject(): Promise<Project | null> {
    const now = Date.now();
    if (this.allSlidesProject && this.allSlidesProject.at > now - this.cacheMs) return this.allSlidesProject.project;
    const project = (await this.store.listProjects()).find((p) => p.allSlides) ?? null;
    this.allSlidesProject = { at: now, project };
    return project;
  }

  /** The caller's role in a project, or null when they are not in it. */
  async roleIn(p: Principal, projectId: string): Promise<ProjectRole | null> {
    const m = (await this.membershipsOf(p.user.id)).find((x) => x.projectId === projectId);
    return m?.role ?? implicitRole(p.user.globalRole);
  }

  private check(p: Principal, actions: ReadonlySet<Action>, action: Action, what: string): void {
    if (!actions.has(action)) throw new WsiError('FORBIDDEN', `your role does not allow this (${action}) in this ${what}`);
    if (WRITE_ACTIONS.has(action) && p.scope !== 'write') throw new WsiError('FORBIDDEN', 'this token is read-only');
  }

  /** A project-slide id's slide and project, from the store (or the folder, for the Default project). */
  private async resolve(projectSlideId: string): Promise<{ ps: ProjectSlide | null; project: Project | null }> {
    const found = await this.store.projectSlideById(projectSlideId);
    if (found) return { ps: found, project: await this.store.projectById(found.projectId) };
    // the Default project's slides keep their own ids
    const def = await this.defaultProject();
    if (!def || !(await this.slideExists(projectSlideId))) return { ps: null, project: null };
    return { ps: { id: projectSlideId, projectId: def.id, slideId: projectSlideId, studyCode: defaultStudyCode(projectSlideId), addedAt: def.createdAt }, project: def };
  }

  /** Resolves a project slide for an action, or throws 404 (not visible) / 403 (visible, not allowed). */
  async slide(p: Principal, projectSlideId: string, action: Action): Promise<SlideScope> {
    const now = Date.now();
    let hit = this.slides.get(projectSlideId);
    if (!hit || hit.at <= now - this.cacheMs) {
      hit = { at: now, ...(await this.resolve(projectSlideId)) };
      if (this.slides.size > 10_000) this.slides.clear();
      // an unknown id is asked again next time: a slide just added to the folder is found at once
      if (hit.ps) this.slides.set(projectSlideId, hit);
    }
    const { ps, project } = hit;
    const notFound = (): never => {
      throw new WsiError('SLIDE_NOT_FOUND', `no slide with id ${projectSlideId}`);
    };
    if (!ps || !project) return notFound();
    const role = await this.roleIn(p, project.id);
    if (!role) return notFound();
    const actions = actionsOf(role, project);
    this.check(p, actions, action, 'project');
    return {
      project,
      projectSlideId: ps.id,
      slideId: ps.slideId,
      studyCode: ps.studyCode,
      role,
      actions,
      seesOthers: seesOthers(role, project) || this.unblind(p.user.id, ps.id),
      seesFileNames: seesFileNames(role, project),
    };
  }

  async project(p: Principal, projectId: string, action: Action): Promise<ProjectScope> {
    const project = await this.store.projectById(projectId);
    const role = project ? await this.roleIn(p, project.id) : null;
    // an auditor reaches every project's report, member or not (outside it: a viewer's role with none of a viewer's actions)
    if (project && p.user.globalRole === 'auditor' && AUDITOR_PROJECT_ACTIONS.has(action)) return { project, role: role ?? 'viewer', actions: AUDITOR_PROJECT_ACTIONS };
    if (!project || !role) throw new WsiError('NOT_FOUND', `no project with id ${projectId}`);
    const actions = actionsOf(role, project);
    this.check(p, actions, action, 'project');
    return { project, role, actions };
  }

  /** The projects the caller is in (admins: all), with their role. */
  async projectsOf(p: Principal): Promise<Array<{ project: Project; role: ProjectRole }>> {
    const all = await this.store.listProjects();
    const out: Array<{ project: Project; role: ProjectRole }> = [];
    for (const project of all) {
      const role = await this.roleIn(p, project.id);
      if (role) out.push({ project, role });
    }
    return out;
  }

  /** The slides of a project: [project-slide id, folder slide id, study code]. */
  async slidesOf(project: Project, folderSlides: () => string[]): Promise<ProjectSlide[]> {
    if (project.allSlides) {
      return folderSlides().map((id) => ({ id, projectId: project.id, slideId: id, studyCode: defaultStudyCode(id), addedAt: project.createdAt }));
    }
    return this.store.projectSlidesOf(project.id);
  }
}
