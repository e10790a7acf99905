/**
 * Readings (issue 14): a manager assigns a set of the project's slides (or
 * ROIs on them) to several readers; each reader submits once. In a blind
 * project a reader sees only their own work until they submit; from then on
 * they see the other readers' work on that reading's slides — the rule
 * AccessService asks `unblinds` for, so lists, mask tiles and exports all
 * follow it. Creating and submitting are audited.
 */
import { WsiError } from '../src/core/errors.js';
import type { AuditEvent } from './audit/audit-log.js';
import type { AccessService, ProjectScope } from './identity/access-service.js';
import type { Principal } from './identity/auth-service.js';
import { seesOthers } from './identity/permissions.js';
import { object, stringList, text, type Body } from './reviews/body-checks.js';
import type { AnnotationStore } from './store/annotation-store.js';
import { writeTransaction, type Db } from './store/database.js';
import type { ProjectRole } from './store/identity-store.js';
import type { Reading, ReadingStore } from './store/readings.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Roles that see every reader's work even in a blind project (permissions.ts decides which): they see every reading. */
function oversees(role: ProjectRole): boolean {
  return seesOthers(role, { editingMode: 'classic', blind: true });
}

export interface ReadingServiceDeps {
  db: Db;
  readings: ReadingStore;
  annotations: AnnotationStore;
  access: AccessService;
  /** The ids of the folder's slides (the Default project holds them all). */
  folderSlides: () => string[];
  audit: (e: AuditEvent) => void;
}

export class ReadingService {
  constructor(private readonly d: ReadingServiceDeps) {}

  private record(p: Principal, scope: ProjectScope, action: string, detail: AuditEvent['detail']): void {
    this.d.audit({ actor: p.user.id, action, projectId: scope.project.id, target: scope.project.id, detail: detail ?? {} });
  }

  /** A manager creates a reading: `{name, slides: [projectSlideId | {slide, roi}], readers: [userId]}`. */
  async createReading(scope: ProjectScope, p: Principal, raw: unknown): Promise<Reading> {
    const body = object(raw);
    const name = text(body['name'], 'name', true) as string;
    if (name.length > 200) throw new WsiError('BAD_REQUEST', 'name holds at most 200 characters');
    if (!Array.isArray(body['slides']) || body['slides'].length === 0 || body['slides'].length > 10_000) throw new WsiError('BAD_REQUEST', 'slides must list 1 to 10,000 slides of the project');
    const projectSlides = new Set((await this.d.access.slidesOf(scope.project, this.d.folderSlides)).map((s) => s.id));
    const slides = (body['slides'] as unknown[]).map((s) => {
      const slideId = typeof s === 'string' ? s : typeof s === 'object' && s !== null ? (s as Body)['slide'] : undefined;
      const roi = typeof s === 'object' && s !== null ? (s as Body)['roi'] : undefined;
      if (typeof slideId !== 'string' || !projectSlides.has(slideId)) throw new WsiError('BAD_REQUEST', `slide ${String(slideId).slice(0, 64)} is not a slide of this project`);
      if (roi !== undefined && (typeof roi !== 'string' || this.d.annotations.slideOf(roi) !== slideId)) throw new WsiError('BAD_REQUEST', `roi ${String(roi).slice(0, 64)} is not an object on slide ${slideId}`);
      return { slideId, roiId: (roi as string | undefined) ?? null };
    });
    const readers = stringList(body['readers'], 'readers', 100);
    if (readers.length < 1) throw new WsiError('BAD_REQUEST', 'a reading has at least one reader');
    const members = new Map((await this.d.access.store.membersOf(scope.project.id)).map((m) => [m.userId, m.role]));
    for (const u of readers) {
      const role = members.get(u);
      if (role === undefined || role === 'viewer') throw new WsiError('BAD_REQUEST', `reader ${u.slice(0, 64)} is not a member of this project who annotates`);
    }
    const uniqueSlides = [...new Map(slides.map((s) => [`${s.slideId}|${s.roiId ?? ''}`, s])).values()];
    const r = writeTransaction(this.d.db, () => this.d.readings.create({ projectId: scope.project.id, name, createdBy: p.user.id, slides: uniqueSlides, readers: [...new Set(readers)] }));
    this.record(p, scope, 'reading.create', { reading: r.id, slides: r.slides.length, readers: r.readers.length });
    return r;
  }

  /** Managers and reviewers see every reading of the project; others the readings they are assigned. */
  readingsFor(scope: ProjectScope, p: Principal): Reading[] {
    return oversees(scope.role) ? this.d.readings.ofProject(scope.project.id) : this.d.readings.ofReader(scope.project.id, p.user.id);
  }

  reading(scope: ProjectScope, p: Principal, id: string): Reading {
    const r = UUID.test(id) ? this.d.readings.get(id) : null;
    const mine = r?.readers.some((x) => x.userId === p.user.id) ?? false;
    if (!r || r.projectId !== scope.project.id || !(mine || oversees(scope.role))) throw new WsiError('READING_NOT_FOUND', `no reading ${id.slice(0, 64)} in this project`);
    return r;
  }

  /** A reader ends the reading for themselves; in a blind project they see the others' work on its slides from now on. */
  submitReading(scope: ProjectScope, p: Principal, id: string): Reading {
    const r = this.reading(scope, p, id);
    if (!r.readers.some((x) => x.userId === p.user.id)) throw new WsiError('FORBIDDEN', 'only the reading\'s readers submit it');
    if (!writeTransaction(this.d.db, () => this.d.readings.submit(r.id, p.user.id))) throw new WsiError('CONFLICT', 'you have submitted this reading already');
    // slide scopes remembered anywhere are stale now (what the reader sees changed)
    this.d.access.invalidate();
    this.record(p, scope, 'reading.submit', { reading: r.id });
    return this.d.readings.get(r.id) as Reading;
  }

  /** For AccessService: whether a reader has submitted a reading holding this project slide (then a blind project shows them others' work there). */
  readonly unblinds = (userId: string, projectSlideId: string): boolean => this.d.readings.submittedOn(userId, projectSlideId);
}
