/**
 * Assembles the tiles-server: decode pool, caches, slide registry, tile
 * service and the HTTP server. `startServer` is what main.ts and the tests use.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import sharp from 'sharp';
import { WsiError } from '../src/core/errors.js';
import type { Config } from './config.js';
import { LagGuard } from './admission.js';
import { DecodePool } from './decode/pool.js';
import { applyCors, answerOptions } from './http/cors.js';
import { HostAllowlist, boundHostName } from './http/host-check.js';
import { loggedPath, StallClock, stdoutSink, trackRequest, type LogSink } from './http/request-log.js';
import { sendProblem } from './http/respond.js';
import { RotatingFile } from './log-file.js';
import { annotationRoutes } from './http/annotation-routes.js';
import { maskRoutes } from './http/mask-routes.js';
import { makeRoutes, type Route } from './http/routes.js';
import { AnnotationService } from './annotation-service.js';
import { ImportJobs } from './import/import-jobs.js';
import { MaskService } from './mask-service.js';
import { AnnotationStore } from './store/annotation-store.js';
import { MaskStore } from './store/mask-store.js';
import { openStore, storeProblem } from './store/database.js';
import { StoreGuard } from './store/store-guard.js';
import { ImportStaging } from './store/import-staging.js';
import { serveStatic } from './http/static-files.js';
import { makeDecodedCache } from './render/tile-reader.js';
import { SlideRegistry } from './slides/registry.js';
import { TileService } from './tile-service.js';

export interface RunningServer {
  server: Server;
  url: string;
  service: TileService;
  pool: DecodePool;
  close(): Promise<void>;
}

export interface AppOptions {
  secret: string;
  corsOrigins?: string[];
  /** Author of every change until accounts exist. */
  author: string;
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
}

function dispatch(routes: Route[], o: DispatchOptions) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
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
    try {
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
        o.guard.checkWrite(method);
        await route.handler({ req, res, url, params: m.slice(1), signal: controller.signal });
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
      tracked.handlerDone();
    }
  };
}

export async function startServer(cfg: Config, opts: AppOptions): Promise<RunningServer> {
  sharp.cache(false);
  sharp.concurrency(1);
  const pool = new DecodePool({ workers: cfg.decodeWorkers, maxQueue: 1024, timeoutMs: 15_000, maxHeapMb: 256 });
  const decodedCache = makeDecodedCache(cfg.decodedCacheMb * 1024 * 1024);
  const registry = new SlideRegistry({
    slidesDir: cfg.slidesDir,
    secret: opts.secret,
    pool,
    decodedCache,
    maxOpen: cfg.maxOpenSlides,
    recheckMs: 2000,
    storageDeadlineMs: 5000,
  });
  await registry.scan(0);
  const lagGuard = cfg.maxLagMs > 0 ? new LagGuard({ maxLagMs: cfg.maxLagMs, windowMs: 500, windows: 2 }) : null;
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
  const dbPath = join(cfg.dataDir, 'wsi.db');
  const maxBytes = cfg.dbMaxMb * 1024 * 1024;
  const { db, damage } = openStore(dbPath, { maxBytes, log });
  const guard = new StoreGuard('wsi.db in the server\'s DATA_DIR', log);
  if (damage) guard.markDamaged(damage, dbPath);
  const annotationStore = new AnnotationStore(db);
  const imports = new ImportJobs(new ImportStaging(db), { dbPath, dbMaxBytes: maxBytes, dataDir: cfg.dataDir, maxBytes: cfg.importMaxMb * 1024 * 1024 });
  // imports a stopped server left half staged are discarded in the background, in short transactions
  const recovered = imports.recover().catch((err: unknown) => process.stderr.write(`unfinished imports could not be discarded yet: ${(err as Error).message}\n`));
  const annotations = new AnnotationService(annotationStore, registry, opts.author, imports);
  const masks = new MaskService(new MaskStore(db), annotationStore, registry, opts.author, {
    dbPath,
    dbMaxBytes: maxBytes,
    spoolDir: imports.spoolDir,
    maxPixels: cfg.maskImportMaxPixels,
    concurrency: cfg.maskImportConcurrency,
  });
  // known once the server listens (PORT=0 picks the port)
  let publicUrl = cfg.publicUrl ?? '';
  const routes = [
    ...annotationRoutes(annotations),
    ...maskRoutes(masks),
    ...makeRoutes(
      service,
      () => ({
        ok: registry.storage.ok && !guard.damaged,
        slides: registry.list().length,
        storage: registry.storage,
        decode: { busy: pool.busy, queued: pool.queued, restarts: pool.restarts },
        tileCache: { ...service.cacheStats, maxBytes: cfg.tileCacheMb * 1024 * 1024 },
        decodedCache: { entries: decodedCache.size, bytes: decodedCache.calculatedSize, maxBytes: cfg.decodedCacheMb * 1024 * 1024 },
        tiles: service.stats,
        lanes: { tiles: service.lanes.tiles.stats, largeRenders: service.lanes.heavy.stats },
        eventLoop: { lagMs: lagGuard ? Math.round(lagGuard.lag * 10) / 10 : null, shed: lagGuard?.shed ?? 0 },
        store: guard.health(),
      }),
      () => publicUrl,
    ),
  ];
  const logFile = cfg.logRequests && cfg.logFile ? new RotatingFile(cfg.logFile, cfg.logMaxMb * 1024 * 1024, cfg.logKeep, log) : null;
  const handling: DispatchOptions = {
    staticDir: cfg.staticDir,
    corsOrigins: opts.corsOrigins ?? [],
    hosts: new HostAllowlist([]),
    guard,
    requestLog: cfg.logRequests ? { sink: logFile ?? stdoutSink, stalls: new StallClock() } : null,
    dbPath,
  };
  // Headers must arrive within 30 s (slowloris); a body may take long (a
  // 500 MB import streams at the importer's pace), but a socket silent for
  // 5 minutes is closed.
  const server = createServer({ keepAlive: true, keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 3_600_000 }, dispatch(routes, handling));
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
  publicUrl ||= `http://${boundHostName(cfg.host) ?? 'localhost'}:${addr.port}`;
  handling.hosts = HostAllowlist.forServer(cfg.allowedHosts, cfg.host, publicUrl);
  if (handling.hosts.allowsAny) log('ALLOWED_HOSTS=*: any Host header is served, so the DNS rebinding protection is off');
  else if (!boundHostName(cfg.host) && cfg.allowedHosts.length === 0 && !cfg.publicUrl) {
    log(`HOST=${cfg.host} listens on every interface, but only requests for ${handling.hosts.describe().join(', ')} are served: set PUBLIC_URL (and ALLOWED_HOSTS) to the name clients use`);
  }
  return {
    server,
    url: `http://${host}:${addr.port}`,
    service,
    pool,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await imports.close();
      await recovered;
      await registry.close();
      lagGuard?.close();
      await pool.close();
      handling.requestLog?.stalls.close();
      await logFile?.close();
      db.close();
    },
  };
}
