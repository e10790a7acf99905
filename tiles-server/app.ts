/**
 * Assembles the tiles-server: decode pool, caches, slide registry, tile
 * service, accounts and the audit log, and the HTTP server. Every request is
 * authorised against its route's rule before its handler runs (SEC-01).
 * `startServer` is what main.ts and the tests use.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { WsiError } from '../src/core/errors.js';
import type { Config } from './config.js';
import { Lane, LagGuard } from './admission.js';
import { LibvipsThreadPriority } from './thread-priority.js';
import { LoopMonitor } from './loop-monitor.js';
import { SyncReads } from './tiff/sync-reads.js';
import { DecodePool } from './decode/pool.js';
import { applyCors, answerOptions } from './http/cors.js';
import { HostAllowlist, boundHostName } from './http/host-check.js';
import { TurnBudget } from './http/turn-budget.js';
import { loggedPath, StallClock, stdoutSink, trackRequest, type LogSink } from './http/request-log.js';
import { Authorizer, clientAddress, type Access } from './http/authorize.js';
import { AuditLog, type AuditEvent } from './audit/audit-log.js';
import { AccessService } from './identity/access-service.js';
import { AuthService } from './identity/auth-service.js';
import { OidcSignIn } from './identity/oidc-sign-in.js';
import { seesFileNames, seesOthers } from './identity/permissions.js';
import { ViewCounter } from './identity/view-counter.js';
import { SqliteAuditStore, type AuditRecord } from './store/audit-store.js';
import { SqliteIdentityStore } from './store/identity-store.js';
import { sendProblem } from './http/respond.js';
import { asPage, secureResponseClass } from './http/security-headers.js';
import { RotatingFile } from './log-file.js';
import { routeTable } from './http/route-table.js';
import { sendHealth, type Route, type RouteContext, type VisibleSlide } from './http/routes.js';
import { AnnotationService } from './annotation-service.js';
import { ImportJobs } from './import/import-jobs.js';
import { MaskService } from './mask-service.js';
import { AgreementService } from './agreement-service.js';
import { ClassRelabelService } from './class-relabel-service.js';
import { AgreementStore } from './store/agreement-store.js';
import { ConsensusService } from './consensus-service.js';
import { ConsensusStore } from './store/consensus-store.js';
import { SoftLabelService } from './soft-label-service.js';
import { ModelRunService } from './model-run-service.js';
import { ModelRunStore } from './store/model-runs.js';
import { ModelMaskService } from './model-mask-service.js';
import { ModelMaskStore } from './store/model-masks.js';
import { ReadingStore } from './store/readings.js';
import { ReviewStore } from './store/reviews.js';
import { ReadingService } from './reading-service.js';
import { ReviewService } from './review-service.js';
import { AnnotationStore } from './store/annotation-store.js';
import { MaskStore } from './store/mask-store.js';
import { openStore, storeProblem } from './store/database.js';
import { openPgDatabase } from './store/pg-schema.js';
import { StoreGuard } from './store/store-guard.js';
import { checkpointerOf } from './store/checkpointer.js';
import { walSyncOf, type Durability } from './store/wal-sync.js';
import { holdUntilDurable } from './http/durable-answer.js';
import { ImportStaging } from './store/import-staging.js';
import { serveStatic } from './http/static-files.js';
import { makeDecodedCache } from './render/tile-reader.js';
import { SlideRegistry } from './slides/registry.js';
import { BucketFiles } from './storage/bucket-files.js';
import { S3Client } from './storage/s3-client.js';
import { TileService } from './tile-service.js';
import { startInbox } from './deid/inbox-wiring.js';
import { reportOptions } from './report/report-wiring.js';
import { SlideDescriptorStore } from './store/slide-descriptors.js';
import { loadTls } from './tls.js';

export interface RunningServer {
  server: Server;
  url: string;
  service: TileService;
  pool: DecodePool;
  auth: AuthService;
  close(): Promise<void>;
}

export interface AppOptions {
  secret: string;
  corsOrigins?: string[];
  /** Where the server's own lines go (tightened permissions, a damaged database); stdout by default. */
  log?: (line: string) => void;
}

interface DispatchOptions {
  staticDir: string;
  corsOrigins: string[];
  hosts: HostAllowlist;
  guard: StoreGuard;
  /** Where request lines go, and the clock of event-loop stalls they report; null: not logged. */
  requestLog: { sink: LogSink; stalls: StallClock } | null;
  /** The database file, named in the log line when SQLite finds it damaged. */
  dbPath: string;
  authorizer: Authorizer;
  /** Records an event in the audit log; never throws (a failure is logged). */
  audit: (e: AuditEvent) => void;
  trustProxy: boolean;
  /** The queue image requests wait in (routes marked `image`). */
  images: Lane;
  /** Syncs the store's commits before a change is answered (http/durable-answer.ts). */
  durability: Durability;
  log: (line: string) => void;
  /** Whether the server can serve: /api/health's answer to a request without credentials. */
  up: () => boolean;
  /** How much of one turn of the loop starting requests may take (http/turn-budget.ts). */
  turns: TurnBudget;
}

const routeNames = new WeakMap<Route, string>();

/** A route's name in the audit log: its method and path with every parameter as `*` (no ids, no names). */
export function routeName(route: Route): string {
  let name = routeNames.get(route);
  if (name === undefined) routeNames.set(route, (name = nameOf(route)));
  return name;
}

function nameOf(route: Route): string {
  return `${route.method} ${route.pattern.source.replace(/^\^/, '').replace(/\$$/, '').replace(/\((?:[^()]|\([^()]*\))*\)/g, '*').replace(/\\/g, '')}`;
}

/** Changes are audited after they succeed, downloads of annotations and masks, and the reads a route asks for. */
function audited(route: Route): 'change' | 'download' | 'read' | null {
  const a: Access = route.access;
  if (!('slide' in a) && !('project' in a)) return null;
  if (route.method !== 'GET') return 'change';
  if (a.action === 'export') return 'download';
  return route.auditReads ? 'read' : null;
}

/**
 * `GET /api/health` without credentials (a load balancer's probe, the LOAD-05/06
 * pollers) is answered here, synchronously, before any of the dispatcher's
 * work: no URL parsing, route search, authorisation, abort signal or await,
 * so under load its answer waits only for the event loop itself. The Host
 * check still applies, and the request is logged like any other. A request
 * with a cookie or a token goes through its route (admins get the details).
 */
function answerHealth(req: IncomingMessage, res: ServerResponse, o: DispatchOptions): boolean {
  if (req.url !== '/api/health' || (req.method !== 'GET' && req.method !== 'HEAD') || req.headers.cookie !== undefined || req.headers.authorization !== undefined) return false;
  const tracked = trackRequest(req, res, o.requestLog, () => '/api/health', () => undefined);
  try {
    o.hosts.check(req.headers.host);
    applyCors(req, res, o.corsOrigins);
    sendHealth(res, o.up(), null);
  } catch (err) {
    sendProblem(res, err);
  }
  tracked.handlerDone();
  return true;
}

function dispatch(routes: Route[], o: DispatchOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (answerHealth(req, res, o)) return;
    const controller = new AbortController();
    let pathname = '';
    let matched: RegExp | null = null;
    let statics = false;
    const tracked = trackRequest(
      req,
      res,
      o.requestLog,
      () => (statics ? '(static)' : loggedPath(pathname, matched)),
      () => controller.abort(new DOMException('client went away', 'AbortError')),
    );
    const held = holdUntilDurable(req.method, res, o.durability, o.log);
    try {
      const later = o.turns.admit(controller.signal);
      if (later) await later;
      o.hosts.check(req.headers.host);
      applyCors(req, res, o.corsOrigins);
      if ((req.url ?? '').length > 4096) throw new WsiError('BAD_REQUEST', 'URL too long');
      const url = new URL(req.url ?? '/', 'http://localhost');
      pathname = url.pathname;
      if (answerOptions(routes, req, res, url.pathname, o.corsOrigins)) return;
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const allowed: string[] = [];
      for (const route of routes) {
        const m = route.pattern.exec(url.pathname);
        if (!m) continue;
        if (route.method !== method) {
          allowed.push(route.method);
          continue;
        }
        matched = route.pattern;
        const params = m.slice(1);
        const name = routeName(route);
        // who is asking is settled before an image request queues: an unauthorised crowd takes no place in line
        const auth = await o.authorizer.authorize(req, route.access, params, name);
        const serve = async (): Promise<void> => {
          // a damaged store is open read-only: no change, and no new session (tokens and sessions made before still read)
          o.guard.checkWrite(method);
          const ctx: RouteContext = { req, res, url, params, signal: controller.signal, auth };
          const scope = auth.slide ?? auth.project;
          const actor = auth.principal?.user.id ?? null;
          const ip = (): string => clientAddress(req, o.trustProxy);
          try {
            await route.handler(ctx);
          } catch (err) {
            if (err instanceof WsiError && err.status === 403 && actor) {
              o.audit({ actor, action: 'access.denied', outcome: 'denied', projectId: scope?.project.id ?? null, target: auth.slide?.projectSlideId ?? params[0] ?? null, ip: ip(), detail: { route: name, code: err.code } });
            }
            throw err;
          }
          const kind = audited(route);
          if (kind && res.statusCode < 400) {
            const opId = req.headers['idempotency-key'];
            o.audit({
              actor,
              action: kind,
              projectId: scope?.project.id ?? null,
              target: auth.slide?.projectSlideId ?? params[0] ?? null,
              ip: ip(),
              detail: { route: name, status: res.statusCode, opId: typeof opId === 'string' ? opId.slice(0, 128) : null },
            });
          }
        };
        // an image request then waits its turn, in order
        if (route.image) await o.images.run(serve, controller.signal);
        else await serve();
        return;
      }
      if (allowed.length > 0) {
        res.setHeader('Allow', [...new Set(allowed)].join(', '));
        throw new WsiError('METHOD_NOT_ALLOWED', `method ${req.method ?? '?'} is not allowed here`);
      }
      if (/^\/(api|dzi|iiif)(\/|$)/.test(url.pathname)) throw new WsiError('NOT_FOUND', `no route for ${url.pathname.slice(0, 200)}`);
      if (method !== 'GET') {
        res.setHeader('Allow', 'GET, HEAD');
        throw new WsiError('METHOD_NOT_ALLOWED', `method ${req.method ?? '?'} is not allowed here`);
      }
      statics = true;
      asPage(res);
      await serveStatic(o.staticDir, req, res, url.pathname);
    } catch (caught) {
      o.guard.noteError(caught, o.dbPath);
      const err = storeProblem(caught);
      // a client that hung up makes its body stream fail too: that is no server fault
      if (!(err instanceof WsiError) && !(err instanceof Error && err.name === 'AbortError') && !controller.signal.aborted) {
        process.stderr.write(`request failed: ${(err as Error).stack ?? String(err)}\n`);
      }
      sendProblem(res, err);
    } finally {
      // a change's answer goes out once it and its audit record are on disk
      await held.release();
      tracked.handlerDone();
    }
  };
}

/**
 * The origins a state-changing request may come from: the one named by the
 * request's Host header (already checked against the Host allowlist) and
 * PUBLIC_URL's.
 */
function ownOrigins(req: IncomingMessage, publicUrl: string): string[] {
  const out: string[] = [];
  const host = req.headers.host;
  if (host) out.push(`http://${host}`, `https://${host}`);
  if (publicUrl) {
    try {
      out.push(new URL(publicUrl).origin);
    } catch {
      // PUBLIC_URL is checked at start
    }
  }
  return out;
}

export async function startServer(cfg: Config, opts: AppOptions): Promise<RunningServer> {
  // a bad certificate or key stops the start before anything is opened
  const tls = cfg.tls ? loadTls(cfg.tls) : null;
  sharp.cache(false);
  sharp.concurrency(1);
  const pool = new DecodePool({ workers: cfg.decodeWorkers, maxQueue: 1024, timeoutMs: 15_000, maxHeapMb: 256, nice: cfg.imageThreadNice });
  const vipsPriority = new LibvipsThreadPriority(cfg.imageThreadNice);
  vipsPriority.start();
  const decodedCache = makeDecodedCache(cfg.decodedCacheMb * 1024 * 1024);
  // small slide reads from the page cache without the thread pool's round trip (LOAD-06)
  const syncReads = cfg.slideReadSyncKb > 0 ? new SyncReads({ maxBytes: cfg.slideReadSyncKb * 1024, slowMs: 2, holdMs: 1000 }) : null;
  const registry = new SlideRegistry({
    slidesDir: cfg.slidesDir,
    ...(cfg.slidesBucket ? { storage: new BucketFiles(new S3Client(cfg.slidesBucket), { probeEveryMs: 2000, blockSize: cfg.s3BlockKb * 1024, cacheBytes: cfg.s3CacheMb * 1024 * 1024 }) } : {}),
    secret: opts.secret,
    pool,
    decodedCache,
    maxOpen: cfg.maxOpenSlides,
    recheckMs: 2000,
    storageDeadlineMs: 5000,
    syncReads,
  });
  await registry.scan(0);
  // stalls of the event loop and GC pauses, counted for /api/health's details (issue 10)
  const loopMonitor = new LoopMonitor();
  const turns = new TurnBudget(cfg.turnBudgetMs);
  const lagGuard = cfg.maxLagMs > 0 || cfg.shedBusyPct > 0 ? new LagGuard({ maxLagMs: cfg.maxLagMs, maxBusy: cfg.shedBusyPct / 100, windowMs: 500, windows: 2 }) : null;
  const service = new TileService(registry, {
    tileCacheBytes: cfg.tileCacheMb * 1024 * 1024,
    jpegQuality: cfg.jpegQuality,
    render: { maxSourcePixels: cfg.maxSourcePixels, tileConcurrency: 8 },
    iiif: { maxWidth: cfg.iiifMaxWidth, maxHeight: cfg.iiifMaxHeight, maxArea: cfg.iiifMaxArea },
    tiles: { concurrency: 16, maxQueued: 2048 },
    heavy: { concurrency: cfg.largeRenders, maxQueued: cfg.largeRenderQueue, tileConcurrency: 2 },
    heavyThreshold: { sourcePixels: 2048 * 2048, outputPixels: 1024 * 1024 },
    lagGuard,
  });
  const log = opts.log ?? ((line: string) => void process.stdout.write(`${line}\n`));
  if (tls && tls.validTo.getTime() < Date.now()) log(`TLS_CERT expired on ${tls.validTo.toISOString()}: browsers will refuse it until it is renewed`);
  // STORE_URL=postgres://…: refused while the server lacks parts on PostgreSQL (store/pg-schema.ts, PG_UNVERIFIED, names them)
  if (cfg.storeUrl) openPgDatabase(cfg.storeUrl).close();
  const dbPath = join(cfg.dataDir, 'wsi.db');
  const maxBytes = cfg.dbMaxMb * 1024 * 1024;
  const { db, damage } = openStore(dbPath, { maxBytes, log });
  const guard = new StoreGuard('wsi.db in the server\'s DATA_DIR', log);
  if (damage) guard.markDamaged(damage, dbPath);
  // a journal that could not be synced: no change can be acknowledged any more, so none is taken
  const durability = walSyncOf(db, dbPath, (err) => guard.markDamaged(`the journal could not be synced to disk (${(err as NodeJS.ErrnoException).code ?? err.message}); restart the server once the disk is sound`, dbPath));
  // checkpoints off the event loop too: a worker thread copies the WAL into the file (store/checkpointer.ts)
  const checkpoints = checkpointerOf(db, dbPath, { log });
  const annotationStore = new AnnotationStore(db);
  const imports = new ImportJobs(new ImportStaging(db), { dbPath, dbMaxBytes: maxBytes, dataDir: cfg.dataDir, maxBytes: cfg.importMaxMb * 1024 * 1024 });
  // imports a stopped server left half staged are discarded in the background, in short transactions
  const recovered = imports.recover().catch((err: unknown) => process.stderr.write(`unfinished imports could not be discarded yet: ${(err as Error).message}\n`));
  const annotations = new AnnotationService(annotationStore, registry, imports);
  const modelRuns = new ModelRunService(new ModelRunStore(db), annotations);
  const masks = new MaskService(new MaskStore(db), annotationStore, registry, {
    dbPath,
    dbMaxBytes: maxBytes,
    spoolDir: imports.spoolDir,
    maxPixels: cfg.maskImportMaxPixels,
    concurrency: cfg.maskImportConcurrency,
    nice: cfg.imageThreadNice,
  });
  // accounts, projects and the audit log (docs/identity.md)
  const identity = new SqliteIdentityStore(db);
  // history answers name their authors' accounts
  annotations.whoIs = masks.whoIs = async (id) => {
    const u = await identity.userById(id);
    return u ? { username: u.username, displayName: u.displayName } : null;
  };
  const auth = new AuthService(identity, {
    idleMs: cfg.sessionIdleMin * 60_000,
    maxMs: cfg.sessionMaxH * 3_600_000,
    cacheMs: 5000,
    embedMs: cfg.embedTokenMin * 60_000,
  });
  // a slide of the folder, as the tile routes see it (an unknown id rescans the folder, at most every 250 ms)
  const access = new AccessService(identity, async (id) => (await registry.entryOf(id)) !== undefined);
  const auditStore = new SqliteAuditStore(db);
  const auditLog = new AuditLog(auditStore, cfg.dataDir);
  const record = (events: AuditEvent[]): AuditRecord[] => {
    try {
      const out = auditLog.append(events);
      // on disk soon, whether or not an answer waits for it (a download's record, a view)
      durability.flush().catch(() => undefined);
      return out;
    } catch (err) {
      // the answer was given (or refused) already; a full or damaged store must not turn it into a 500
      log(`audit record not written (${(err as Error).message}): ${events.map((e) => e.action).join(', ')}`);
      return [];
    }
  };
  const audit = (e: AuditEvent): void => {
    record([e]);
  };
  // agreement between readers' masks (issue 14): counted in worker threads on read-only connections
  const agreement = new AgreementService(masks, annotationStore, new AgreementStore(db), { dbPath, maxPixels: cfg.agreementMaxPixels });
  agreement.audit = audit;
  masks.onChange = (slideId) => agreement.touched(slideId);
  const views = new ViewCounter(record);
  // reviews (issue 14): they lock reviewed objects and regions, and readings unblind a reader who submitted
  const folderSlides = (): string[] => registry.list().map((e) => e.id);
  const reviews = new ReviewService({ db, store: new ReviewStore(db), annotations: annotationStore, access, folderSlides, audit });
  annotationStore.writeGuards.push(reviews.annotationGuard);
  masks.writeGuard = (slideId, annotator, tiles) => reviews.maskGuard(slideId, annotator, tiles);
  const readings = new ReadingService({ db, readings: new ReadingStore(db), annotations: annotationStore, access, folderSlides, audit });
  access.unblind = readings.unblinds;
  // the reference mask: a reviewer accepts a consensus of the readers into it (issue 14)
  const consensus = new ConsensusService({ masks, agreement, store: new ConsensusStore(db), reviews: reviews.store, submittedReading: readings.unblinds, audit });
  const softLabels = new SoftLabelService(masks, agreement, annotationStore);
  // AI masks of model runs (issue 13): the model's read-only layer, corrected layers, the per-pixel confusion
  const modelMasks = new ModelMaskService({ masks, runs: modelRuns.runs, store: new ModelMaskStore(db), classes: annotationStore, agreement });
  modelRuns.maskReport = (scope, run, signal) => modelMasks.report(scope, run, signal);
  softLabels.audit = audit;
  // known once the server listens (PORT=0 picks the port)
  let publicUrl = cfg.publicUrl ?? '';
  // under TLS (ours or a proxy's, said by PUBLIC_URL): Secure cookies and HSTS
  const secureCookies = tls !== null || (cfg.publicUrl ?? '').startsWith('https:');
  const visibleSlides = async (p: Parameters<AccessService['projectsOf']>[0]): Promise<VisibleSlide[]> => {
    await registry.scan();
    const out: VisibleSlide[] = [];
    for (const { project, role } of await access.projectsOf(p)) {
      const names = seesFileNames(role, project);
      const others = seesOthers(role, project);
      for (const ps of await access.slidesOf(project, () => registry.list().map((e) => e.id))) {
        out.push({ id: ps.id, slideId: ps.slideId, projectId: project.id, studyCode: ps.studyCode, seesFileNames: names, seesOthers: others, addedAt: ps.addedAt });
      }
    }
    return out;
  };
  // /api/health's ok: 503 when slide storage is gone or the store damaged
  const up = (): boolean => registry.storage.ok && !guard.damaged;
  // a freed place goes to the next request in a later turn of the event loop, so cached tiles
  // cannot run the whole queue at once and /api/health (never queued) answers in between
  const images = new Lane({
    name: 'image-requests',
    concurrency: cfg.imageRequests,
    maxQueued: cfg.imageQueue,
    maxWaitMs: cfg.imageQueueWaitMs,
    priority: 'interactive',
    busyMessage: 'too many image requests are waiting',
    yieldBetween: true,
  });
  // the quarantine inbox (INBOX_DIR, issue 15): de-identified copies wait for a manager's approval
  const inbox = cfg.inbox ? await startInbox(cfg.inbox, { cfg, db, identity, access, registry, audit, log, secret: opts.secret }) : null;
  const routes = routeTable({
    auth: { auth, access, audit, secureCookies, trustProxy: cfg.trustProxy, oidc: cfg.oidc ? new OidcSignIn(cfg.oidc, opts.secret) : null, log },
    admin: { auth, access, registry, audit, trustProxy: cfg.trustProxy },
    audit: { log: auditLog, query: (q) => auditStore.query(q), auth, audit, trustProxy: cfg.trustProxy, dormantDays: cfg.dormantDays },
    annotations,
    palettes: {
      store: annotationStore,
      audit,
      trustProxy: cfg.trustProxy,
      classPixels: (id) => masks.store.classPixels(id),
      projectSlides: async (project) => (await access.slidesOf(project, () => registry.list().map((e) => e.id))).map((s) => s.id),
    },
    masks,
    modelRuns,
    reviews,
    readings,
    inbox: { inbox, trustProxy: cfg.trustProxy },
    agreement,
    report: reportOptions({ db, annotations: annotationStore, agreement, registry, access, identity, auditLog, auditStore, audit, trustProxy: cfg.trustProxy, maskCorrections: (scope, run) => modelMasks.report(scope, run) }),
    descriptors: { store: new SlideDescriptorStore(db), audit, trustProxy: cfg.trustProxy },
    consensus,
    softLabels,
    modelMasks,
    classRelabel: {
      service: new ClassRelabelService({
        db,
        annotations: annotationStore,
        masks: masks.store,
        maskGuard: (slideId, annotator, tiles) => masks.writeGuard(slideId, annotator, tiles),
        projectSlides: async (project) => (await access.slidesOf(project, () => registry.list().map((e) => e.id))).map((s) => s.id),
        onMaskChange: (slideId) => masks.onChange(slideId),
      }),
      audit,
      trustProxy: cfg.trustProxy,
    },
    tiles: service,
    tileOptions: {
      publicUrl: () => publicUrl,
      visibleSlides,
      workOn: (v, userId) => ({
        objects: v.seesOthers ? annotationStore.count(v.id) : annotationStore.countBy(v.id, userId),
        labelledPx: masks.store.labelledPixels(v.id, v.seesOthers ? null : userId),
      }),
      viewed: (ctx) => {
        if (ctx.auth.principal && ctx.auth.slide) views.note(ctx.auth.principal, ctx.auth.slide, () => clientAddress(ctx.req, cfg.trustProxy));
      },
      up,
      health: () => ({
        slides: registry.list().length,
        storage: registry.storage,
        decode: { busy: pool.busy, queued: pool.queued, restarts: pool.restarts },
        tileCache: { ...service.cacheStats, maxBytes: cfg.tileCacheMb * 1024 * 1024 },
        decodedCache: { entries: decodedCache.size, bytes: decodedCache.calculatedSize, maxBytes: cfg.decodedCacheMb * 1024 * 1024 },
        tiles: service.stats,
        slideReads: syncReads ? { ...syncReads.stats, allowed: syncReads.allowed } : null,
        lanes: { requests: images.stats, tiles: service.lanes.tiles.stats, largeRenders: service.lanes.heavy.stats },
        eventLoop: { lagMs: lagGuard ? Math.round(lagGuard.lag * 10) / 10 : null, busy: lagGuard ? Math.round(lagGuard.busy * 1000) / 1000 : null, shed: lagGuard?.shed ?? 0, shedBusy: lagGuard?.shedBusy ?? 0, deferredStarts: turns.deferred },
        loop: loopMonitor.reading(),
        store: guard.health(),
      }),
    },
  });
  const logFile = cfg.logRequests && cfg.logFile ? new RotatingFile(cfg.logFile, cfg.logMaxMb * 1024 * 1024, cfg.logKeep, log) : null;
  const handling: DispatchOptions = {
    staticDir: cfg.staticDir,
    corsOrigins: opts.corsOrigins ?? [],
    hosts: new HostAllowlist([]),
    guard,
    requestLog: cfg.logRequests ? { sink: logFile ?? stdoutSink, stalls: new StallClock() } : null,
    dbPath,
    // a change from a cookie session must come from the origin the browser loaded us from
    authorizer: new Authorizer(auth, access, audit, (req) => ownOrigins(req, publicUrl), cfg.trustProxy),
    audit,
    trustProxy: cfg.trustProxy,
    images,
    durability,
    log,
    up,
    turns,
  };
  // Headers must arrive within 30 s (slowloris); a body may take long (a
  // 500 MB import streams at the importer's pace), but a socket silent for
  // 5 minutes is closed.
  // Under TLS_CERT/TLS_KEY the port speaks HTTPS only: plain HTTP to it fails its handshake (docs/identity.md).
  // every answer carries the security headers (http/security-headers.ts)
  const serverOptions = { keepAlive: true, keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 3_600_000, ServerResponse: secureResponseClass({ embedOrigins: cfg.embedOrigins, https: secureCookies }) };
  const server: Server = tls ? createHttpsServer({ ...serverOptions, cert: tls.cert, key: tls.key }, dispatch(routes, handling)) : createServer(serverOptions, dispatch(routes, handling));
  server.setTimeout(300_000);
  server.maxHeadersCount = 100;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  const scheme = tls ? 'https' : 'http';
  publicUrl ||= `${scheme}://${boundHostName(cfg.host) ?? 'localhost'}:${addr.port}`;
  handling.hosts = HostAllowlist.forServer(cfg.allowedHosts, cfg.host, publicUrl);
  if (handling.hosts.allowsAny) log('ALLOWED_HOSTS=*: any Host header is served, so the DNS rebinding protection is off');
  else if (!boundHostName(cfg.host) && cfg.allowedHosts.length === 0 && !cfg.publicUrl) {
    log(`HOST=${cfg.host} listens on every interface, but only requests for ${handling.hosts.describe().join(', ')} are served: set PUBLIC_URL (and ALLOWED_HOSTS) to the name clients use`);
  }
  return {
    server,
    url: `${scheme}://${host}:${addr.port}`,
    service,
    pool,
    auth,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await imports.close();
      await inbox?.close();
      await recovered;
      await registry.close();
      lagGuard?.close();
      loopMonitor.close();
      vipsPriority.stop();
      await pool.close();
      handling.requestLog?.stalls.close();
      await logFile?.close();
      views.close();
      auditLog.close();
      await checkpoints.close();
      db.close();
      await durability.close();
    },
  };
}
