/**
 * Builds the quarantine inbox from the configuration and the server's
 * stores (kept out of app.ts so the server's assembly stays one line): the
 * project is found by name, an approved copy becomes a project slide under
 * its study code, and the first look at the inbox happens at start.
 */
import { isAbsolute, relative } from 'node:path';
import type { AuditEvent } from '../audit/audit-log.js';
import type { Config, InboxConfig } from '../config.js';
import type { AccessService } from '../identity/access-service.js';
import { newId } from '../identity/secrets.js';
import type { LogLine } from '../private-files.js';
import type { SlideRegistry } from '../slides/registry.js';
import type { Db } from '../store/database.js';
import { DeidJobStore } from '../store/deid-jobs.js';
import type { SqliteIdentityStore } from '../store/identity-store.js';
import { WsiError } from '../../src/core/errors.js';
import { InboxService } from './inbox.js';
import { loadRulesFile } from './rules.js';

export interface InboxDeps {
  cfg: Config;
  db: Db;
  identity: SqliteIdentityStore;
  access: AccessService;
  registry: SlideRegistry;
  audit: (e: AuditEvent) => void;
  log: LogLine;
  secret: string;
}

function inside(child: string, parent: string): boolean {
  const rel = relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

export async function startInbox(c: InboxConfig, d: InboxDeps): Promise<InboxService> {
  // approved copies are moved into the slide folder; a bucket is only ever read
  if (d.cfg.slidesBucket) throw new Error('INBOX_DIR cannot be used with SLIDES_URL: approved copies go into SLIDES_DIR, and the bucket is read-only to this server');
  // originals must never be listed as slides, nor approved copies taken for new arrivals
  if (inside(c.dir, d.cfg.slidesDir) || inside(d.cfg.slidesDir, c.dir)) throw new Error('INBOX_DIR and SLIDES_DIR must not contain one another');
  const rules = c.rules ? await loadRulesFile(c.rules) : undefined;
  const inbox = new InboxService({
    inboxDir: c.dir,
    slidesDir: d.cfg.slidesDir,
    dataDir: d.cfg.dataDir,
    projectName: c.project,
    keepOriginals: c.keepOriginals,
    prefix: c.prefix,
    ...(rules ? { rules } : {}),
    strict: c.strict,
    secret: d.secret,
    store: new DeidJobStore(d.db),
    projectId: async (name) => (await d.identity.projectByName(name))?.id ?? null,
    addToProject: async (projectId, slideName, studyCode) => {
      await d.registry.scan(0);
      // a DICOM copy (a folder) is one slide named dir/, or by its file when it holds one instance
      const entry = d.registry.list().find((e) => e.name === slideName || (slideName.endsWith('/') && e.name.startsWith(slideName)));
      if (!entry) throw new WsiError('SLIDE_NOT_FOUND', 'the approved copy is not in the slide folder listing');
      const id = newId().replace(/-/g, '');
      try {
        await d.identity.addProjectSlide({ id, projectId, slideId: entry.id, studyCode, addedAt: new Date().toISOString() });
      } catch (err) {
        if (/UNIQUE/.test((err as Error).message)) throw new WsiError('CONFLICT', 'the study code is already used in this project');
        throw err;
      }
      d.access.invalidate();
      return id;
    },
    audit: d.audit,
    log: d.log,
    scanMs: c.scanS * 1000,
  });
  await inbox.init();
  d.log(`quarantine inbox on: copies wait for approval in project "${c.project}"${c.keepOriginals ? ' (originals kept)' : ''}`);
  return inbox;
}
