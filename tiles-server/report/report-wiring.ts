/**
 * Builds the report routes' options from the server's stores (kept out of
 * app.ts so the server's assembly stays one line there).
 */
import type { AgreementService } from '../agreement-service.js';
import type { AuditEvent, AuditLog } from '../audit/audit-log.js';
import type { ReportRoutesOptions } from '../http/report-routes.js';
import type { AccessService } from '../identity/access-service.js';
import type { SlideRegistry } from '../slides/registry.js';
import type { AnnotationStore } from '../store/annotation-store.js';
import type { SqliteAuditStore } from '../store/audit-store.js';
import type { Db } from '../store/database.js';
import type { SqliteIdentityStore } from '../store/identity-store.js';
import { ModelRunStore } from '../store/model-runs.js';
import { ProjectRecordStore } from '../store/project-records.js';
import { ReportQueries } from '../store/report-queries.js';
import { ProjectReportBuilder, type ReportDeps } from './project-report.js';

export interface ReportWiring {
  db: Db;
  annotations: AnnotationStore;
  agreement: AgreementService;
  registry: SlideRegistry;
  access: AccessService;
  identity: SqliteIdentityStore;
  auditLog: AuditLog;
  auditStore: SqliteAuditStore;
  audit: (e: AuditEvent) => void;
  trustProxy: boolean;
  /** The AI-mask part of a run's corrections (model-mask-service.ts). */
  maskCorrections?: ReportDeps['maskCorrections'];
}

export function reportOptions(w: ReportWiring): ReportRoutesOptions {
  const builder = new ProjectReportBuilder({
    queries: new ReportQueries(w.db),
    annotations: w.annotations,
    modelRuns: new ModelRunStore(w.db),
    agreement: w.agreement,
    ...(w.maskCorrections ? { maskCorrections: w.maskCorrections } : {}),
    registry: w.registry,
    projectSlides: async (project) => {
      await w.registry.scan();
      return w.access.slidesOf(project, () => w.registry.list().map((e) => e.id));
    },
    auditChain: () => {
      const last = w.auditStore.last();
      return { head: last ? { seq: last.seq, hash: last.hash.toString('hex') } : null, verify: w.auditLog.verify() };
    },
  });
  return { builder, records: new ProjectRecordStore(w.db), identity: w.identity, audit: w.audit, trustProxy: w.trustProxy };
}
