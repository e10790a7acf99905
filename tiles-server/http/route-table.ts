/**
 * The whole route table in one place: the server dispatches through it,
 * and the tests walk it (SEC-01: every route has an access rule, and a
 * request without the right credential is refused before any handler).
 * Nothing else registers routes.
 */
import { adminRoutes, type AdminRoutesOptions } from './admin-routes.js';
import { agreementRoutes } from './agreement-routes.js';
import { annotationRoutes } from './annotation-routes.js';
import { consensusRoutes } from './consensus-routes.js';
import { auditRoutes, type AuditRoutesOptions } from './audit-routes.js';
import { authRoutes, type AuthRoutesOptions } from './auth-routes.js';
import { columnarRoutes } from './columnar-routes.js';
import { classRelabelRoutes, type ClassRelabelRoutesOptions } from './class-relabel-routes.js';
import { inboxRoutes, type InboxRoutesOptions } from './inbox-routes.js';
import { maskRoutes } from './mask-routes.js';
import { modelRunRoutes } from './model-run-routes.js';
import { modelMaskRoutes } from './model-mask-routes.js';
import { oidcRoutes } from './oidc-routes.js';
import { paletteRoutes, type PaletteRoutesOptions } from './palette-routes.js';
import { readingRoutes } from './reading-routes.js';
import { reportRoutes, type ReportRoutesOptions } from './report-routes.js';
import { slideDescriptorRoutes, type SlideDescriptorRoutesOptions } from './slide-descriptor-routes.js';
import { reviewRoutes } from './review-routes.js';
import { softLabelRoutes } from './soft-label-routes.js';
import { makeRoutes, type Route, type TileRoutesOptions } from './routes.js';
import type { AgreementService } from '../agreement-service.js';
import type { AnnotationService } from '../annotation-service.js';
import type { ConsensusService } from '../consensus-service.js';
import type { MaskService } from '../mask-service.js';
import type { ModelRunService } from '../model-run-service.js';
import type { ModelMaskService } from '../model-mask-service.js';
import type { ReadingService } from '../reading-service.js';
import type { ReviewService } from '../review-service.js';
import type { SoftLabelService } from '../soft-label-service.js';
import type { TileService } from '../tile-service.js';

export interface RouteTableDeps {
  auth: AuthRoutesOptions;
  admin: AdminRoutesOptions;
  audit: AuditRoutesOptions;
  annotations: AnnotationService;
  palettes: PaletteRoutesOptions;
  masks: MaskService;
  modelRuns: ModelRunService;
  reviews: ReviewService;
  readings: ReadingService;
  tiles: TileService;
  tileOptions: TileRoutesOptions;
  /** The quarantine inbox (issue 15); its routes answer 404 when it is not configured. */
  inbox?: InboxRoutesOptions;
  agreement: AgreementService;
  /** The regulatory report, protocol and qualifications (issue 15). */
  report?: ReportRoutesOptions;
  /** The site and stain a manager sets per slide (issue 15). */
  descriptors?: SlideDescriptorRoutesOptions;
  /** The reference mask (issue 14: accepted consensus). */
  consensus: ConsensusService;
  /** Soft-label export (issue 14). */
  softLabels: SoftLabelService;
  /** Class merge and rename (issue 11); its route answers 404 when absent. */
  classRelabel?: ClassRelabelRoutesOptions;
  /** AI masks of model runs (issue 13). */
  modelMasks?: ModelMaskService;
}

export function routeTable(d: RouteTableDeps): Route[] {
  // slide routes first: a tile is the most frequent request, and the dispatcher tries patterns in order
  // (no two patterns match the same path and method, so the order changes nothing else — a test checks)
  return [
    ...makeRoutes(d.tiles, d.tileOptions),
    ...annotationRoutes(d.annotations),
    ...maskRoutes(d.masks),
    ...modelRunRoutes(d.modelRuns, d.annotations),
    ...authRoutes(d.auth),
    ...oidcRoutes(d.auth),
    ...adminRoutes(d.admin),
    ...auditRoutes(d.audit),
    ...paletteRoutes(d.palettes),
    ...reviewRoutes(d.reviews),
    ...readingRoutes(d.readings),
    ...inboxRoutes(d.inbox),
    ...agreementRoutes(d.agreement),
    ...reportRoutes(d.report),
    ...consensusRoutes(d.consensus),
    ...softLabelRoutes(d.softLabels),
    ...columnarRoutes(d.annotations),
    ...classRelabelRoutes(d.classRelabel),
    ...slideDescriptorRoutes(d.descriptors),
    ...modelMaskRoutes(d.modelMasks),
  ];
}
