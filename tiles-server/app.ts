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
import { sendProblem } from './http/respond.js';
import { annotationRoutes } from './http/annotation-routes.js';
import { maskRoutes } from './http/mask-routes.js';
import { makeRoutes, type Route } from './http/routes.js';
import { AnnotationService } from './annotation-service.js';
import { ImportJobs } from './import/import-jobs.js';
import { MaskService } from './mask-service.js';
import { AnnotationStore } from './store/annotation-store.js';
import { MaskStore } from './store/mask-store.js';
import { openDatabase, storeProblem } from './store/database.js';
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
}

function dispatch(routes: Route[], staticDir: string, cfg: Config, corsOrigins: string[]) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = performance.now();
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new DOMException('client went away', 'AbortError'));
      if (cfg.logRequests) {
        const ms = (performance.now() - started).toFixed(1);
        process.stdout.write(`${JSON.stringify({ t: new Date().toISOString(), method: req.method, path: (req.url ?? '').split('?')[0], status: res.statusCode, ms: Number(ms) })}\n`);
      }
    });
    const origin = req.headers.origin;
    if (origin && (corsOrigins.includes('*') || corsOrigins.includes(origin))) {
      res.setHeader('Access-Control-Allow-Origin', corsOrigins.includes('*') ? '*' : origin);
      res.setHeader('Vary', 'Origin');
    }
    try {
      if ((req.url ?? '').length > 4096) throw new WsiError('BAD_REQUEST', 'URL too long');
      const url = new URL(req.url ?? '/', 'http://localhost');
      const method = req.method === 'HEAD' ? 'GET' : req.method;
      const allowed: string[] = [];
      for (const route of routes) {
        const m = route.pattern.exec(url.pathname);
        if (!m) continue;
        if (route.method !== method) {
          allowed.push(route.method);
          continue;
        }
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
      await serveStatic(staticDir, req, res, url.pathname);
    } catch (caught) {
      let err = caught;
      err = storeProblem(err);
      if (!(err instanceof WsiError) && !(err instanceof Error && err.name === 'AbortError')) {
        process.stderr.write(`request failed: ${(err as Error).stack ?? String(err)}\n`);
      }
      sendProblem(res, err);
    }
  };
}

export async function startServer(cfg: Config, opts: AppOptions): Promise<RunningServer> {
  sharp.cache(false);
  sharp.concurrency(1);
  const pool = new DecodePool({ workers: cfg.decodeWorkers, maxQueue: 1024, timeoutMs: 15_000, maxHeapMb: 256 });
  const registry = new SlideRegistry({
    slidesDir: cfg.slidesDir,
    secret: opts.secret,
    pool,
    decodedCache: makeDecodedCache(cfg.decodedCacheMb * 1024 * 1024),
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
  const dbPath = join(cfg.dataDir, 'wsi.db');
  const maxBytes = cfg.dbMaxMb * 1024 * 1024;
  const db = openDatabase(dbPath, { maxBytes });
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
  const routes = [
    ...annotationRoutes(annotations),
    ...maskRoutes(masks),
    ...makeRoutes(service, () => ({
    ok: registry.storage.ok,
    slides: registry.list().length,
    storage: registry.storage,
    decode: { busy: pool.busy, queued: pool.queued, restarts: pool.restarts },
    tileCache: service.cacheStats,
    tiles: service.stats,
    lanes: { tiles: service.lanes.tiles.stats, largeRenders: service.lanes.heavy.stats },
    eventLoop: { lagMs: lagGuard ? Math.round(lagGuard.lag * 10) / 10 : null, shed: lagGuard?.shed ?? 0 },
  })),
  ];
  // Headers must arrive within 30 s (slowloris); a body may take long (a
  // 500 MB import streams at the importer's pace), but a socket silent for
  // 5 minutes is closed.
  const server = createServer({ keepAlive: true, keepAliveTimeout: 65_000, headersTimeout: 30_000, requestTimeout: 3_600_000 }, dispatch(routes, cfg.staticDir, cfg, opts.corsOrigins ?? []));
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
      db.close();
    },
  };
}
