/**
 * Server configuration from environment variables, overridable by
 * `--name=value` flags (e.g. `--port=9000`). Defaults are safe for a
 * single-user workstation: loopback only.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { s3LocationFromEnv, type S3Location } from './storage/s3-client.js';

export interface Config {
  port: number;
  host: string;
  slidesDir: string;
  /** SLIDES_URL: slides in an S3-compatible bucket instead of SLIDES_DIR (null: the folder). */
  slidesBucket: S3Location | null;
  /** Block size and shared cache of the bucket reader (S3_BLOCK_KB, S3_CACHE_MB). */
  s3BlockKb: number;
  s3CacheMb: number;
  dataDir: string;
  staticDir: string;
  tileCacheMb: number;
  decodedCacheMb: number;
  decodeWorkers: number;
  jpegQuality: number;
  maxSourcePixels: number;
  sampleSlide: boolean;
  sampleSize: number;
  logRequests: boolean;
  /** Sessions end after this many idle minutes (SESSION_IDLE_MIN) and this many hours in all (SESSION_MAX_H). */
  sessionIdleMin: number;
  sessionMaxH: number;
  /** Lifetime of embed tokens for portals on another origin, in minutes (EMBED_TOKEN_MIN). */
  embedTokenMin: number;
  /** Behind a reverse proxy (TRUST_PROXY): the client address is the first X-Forwarded-For entry. */
  trustProxy: boolean;
  /** Accounts not signed in for this many days are listed as dormant in the access review. */
  dormantDays: number;
  /** Origins that may show the app in a frame (EMBED_ORIGINS, the CSP's frame-ancestors). */
  embedOrigins: string[];
  /** Cap on the database's size in MiB (0: none); writes past it get 507. */
  dbMaxMb: number;
  /** STORE_URL: the PostgreSQL store (postgres://…), or null for SQLite in DATA_DIR (store/pg-schema.ts). */
  storeUrl: string | null;
  /** Largest IIIF output (advertised in info.json; larger requests get 400). */
  iiifMaxWidth: number;
  iiifMaxHeight: number;
  iiifMaxArea: number;
  /** Large renders running at once, and allowed to wait (more get 503). */
  largeRenders: number;
  largeRenderQueue: number;
  /** Slides kept open at once (each holds a file descriptor and its parsed directories). */
  maxOpenSlides: number;
  /** Tile renders are refused (503) while the event loop lags more than this for a second (0: never). */
  maxLagMs: number;
  /** Tile renders are refused (503) while the event loop is busy at least this percentage of the time for a second (0: never). */
  shedBusyPct: number;
  /** How long one turn of the event loop may spend starting requests before the rest wait for a later turn (ms; 0: no bound). */
  turnBudgetMs: number;
  /** Image requests (tiles, IIIF, thumbnails) served at once; the rest wait their turn in order. */
  imageRequests: number;
  /** Niceness of the image threads (libvips workers, the decode pool) on Linux, so the event loop answers first; 0: as the server. */
  imageThreadNice: number;
  /** Image requests allowed to wait, and how long (ms) one may wait; past either: 503 with Retry-After. */
  imageQueue: number;
  imageQueueWaitMs: number;
  /** Slide reads up to this many KiB are made synchronously from the page cache (tiff/sync-reads.ts); 0: every read through the thread pool. */
  slideReadSyncKb: number;
  /** Extra Host header values served (ALLOWED_HOSTS); loopback names and the bound host always are. */
  allowedHosts: string[];
  /** Where clients reach the server (PUBLIC_URL), for ids such as IIIF's; null: http://HOST:PORT. */
  publicUrl: string | null;
  /** Request log file (LOG_FILE), rotated at logMaxMb keeping logKeep old files; null: stdout. */
  logFile: string | null;
  logMaxMb: number;
  logKeep: number;
  /** Largest annotation-file upload in MiB (413 past it, before a byte is read when declared). */
  importMaxMb: number;
  /** Largest label image a mask import decodes, in pixels (checked in the file header first). */
  maskImportMaxPixels: number;
  /** Mask imports decoded at once; past it 503 with Retry-After. */
  maskImportConcurrency: number;
  /** Largest ROI (bounding box inside the slide, level-0 pixels) one agreement computation counts. */
  agreementMaxPixels: number;
  /** HTTPS of its own (TLS_CERT and TLS_KEY, PEM file paths); null: plain HTTP (loopback or behind a TLS proxy). */
  tls: { certFile: string; keyFile: string } | null;
  /** Sign-in through an OpenID Connect provider (OIDC_*); null: not configured. */
  oidc: OidcConfig | null;
  /** The quarantine inbox (INBOX_*, issue 15); null: not configured. */
  inbox: InboxConfig | null;
}

export interface InboxConfig {
  /** Slides arriving here are de-identified by a job before anyone sees them (INBOX_DIR). */
  dir: string;
  /** The project whose managers approve the copies, by name (INBOX_PROJECT). */
  project: string;
  /** Keep the original in the inbox after approval instead of deleting it (INBOX_KEEP_ORIGINALS). */
  keepOriginals: boolean;
  /** Study codes are `<prefix>-0001`, … (INBOX_STUDY_PREFIX). */
  prefix: string;
  /** A project rule file (INBOX_RULES, JSON; `"extends": "default"` to change a few rules), or null: the built-in rules. */
  rules: string | null;
  /** The strict profile: delete everything not structural instead of refusing the file (INBOX_STRICT). */
  strict: boolean;
  /** How often the inbox is looked at, in seconds (INBOX_SCAN_S); a file gets a job once two looks find it unchanged. */
  scanS: number;
}

function inboxOf(get: (name: string) => string | undefined): InboxConfig | null {
  const dir = get('INBOX_DIR');
  if (!dir) return null;
  const project = (get('INBOX_PROJECT') ?? '').trim();
  if (!project) throw new Error('INBOX_DIR needs INBOX_PROJECT: the name of the project whose managers approve the de-identified copies');
  const prefix = get('INBOX_STUDY_PREFIX') ?? 'DEID';
  if (!/^[A-Za-z0-9]{1,16}$/.test(prefix)) throw new Error(`INBOX_STUDY_PREFIX must be 1–16 letters or digits, got "${prefix}"`);
  return {
    dir: resolve(dir),
    project,
    keepOriginals: boolOf(get('INBOX_KEEP_ORIGINALS'), false),
    prefix,
    rules: get('INBOX_RULES') ? resolve(get('INBOX_RULES') as string) : null,
    strict: boolOf(get('INBOX_STRICT'), false),
    scanS: intOf(get('INBOX_SCAN_S'), 10, 'INBOX_SCAN_S', 0, 86400),
  };
}

export interface OidcConfig {
  issuer: string;
  clientId: string;
  clientSecret: string;
  /** Where the provider sends the browser back: this server's /api/auth/oidc/callback. */
  redirectUrl: string;
  /** The name on the sign-in button (OIDC_NAME; the issuer's host by default). */
  name: string;
}

/** The path OIDC_REDIRECT_URL must name: the callback route (http/oidc-routes.ts). */
export const OIDC_CALLBACK_PATH = '/api/auth/oidc/callback';

function flags(argv: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const a of argv) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/i.exec(a);
    if (m) out.set((m[1] as string).toLowerCase().replace(/-/g, '_'), m[2] ?? 'true');
  }
  return out;
}

function intOf(v: string | undefined, fallback: number, name: string, min: number, max: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name} must be an integer in ${min}..${max}, got "${v}"`);
  return n;
}

function publicUrlOf(v: string | undefined): string | null {
  if (v === undefined || v === '') return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error(`PUBLIC_URL must be an absolute http(s) URL such as https://slides.example.org, got "${v}"`);
  }
  if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.search || u.hash || u.username || u.password) {
    throw new Error(`PUBLIC_URL must be an http(s) URL without query, fragment or credentials, got "${v}"`);
  }
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
}

/** STORE_URL: a postgres:// URL (its password is never repeated in an error), or unset for SQLite. */
function storeUrlOf(v: string | undefined): string | null {
  if (v === undefined || v === '') return null;
  let u: URL | null = null;
  try {
    u = new URL(v);
  } catch {
    // said below, without the value: it may hold a password
  }
  if (!u || (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') || !u.hostname) {
    throw new Error('STORE_URL must be a PostgreSQL URL such as postgres://wsi@db.lab.example:5432/wsi (the password from PGPASSWORD or ~/.pgpass), or unset to keep the store in DATA_DIR (SQLite)');
  }
  return v;
}

function originsOf(v: string | undefined): string[] {
  const out: string[] = [];
  for (const item of (v ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    let u: URL;
    try {
      u = new URL(item);
    } catch {
      throw new Error(`EMBED_ORIGINS must list origins such as https://portal.example.org, got "${item}"`);
    }
    if ((u.protocol !== 'http:' && u.protocol !== 'https:') || u.origin !== item.replace(/\/$/, '')) throw new Error(`EMBED_ORIGINS must list origins (scheme://host[:port]) only, got "${item}"`);
    out.push(u.origin);
  }
  return out;
}

function boolOf(v: string | undefined, fallback: boolean): boolean {
  if (v === undefined || v === '') return fallback;
  return !/^(0|false|no|off)$/i.test(v);
}

/** Whether HOST is a loopback address (the only one served without TLS in front). */
export function loopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/**
 * Refuses to serve slides and passwords in the clear to a network (SEC-15):
 * a HOST other than loopback needs TLS of the server's own (TLS_CERT and
 * TLS_KEY) or TRUST_PROXY=1, which says a TLS reverse proxy is in front.
 */
export function checkBind(cfg: Pick<Config, 'host' | 'trustProxy' | 'tls'>): void {
  if (!loopbackHost(cfg.host) && !cfg.trustProxy && !cfg.tls) {
    throw new Error(
      `HOST=${cfg.host} would serve slides, sessions and passwords over plain HTTP to the network. Keep HOST=127.0.0.1, or give the server a certificate (TLS_CERT and TLS_KEY), or put a TLS reverse proxy in front and set TRUST_PROXY=1 (and PUBLIC_URL=https://…)`,
    );
  }
}

function tlsOf(cert: string | undefined, key: string | undefined): Config['tls'] {
  if (!cert && !key) return null;
  if (!cert || !key) throw new Error(`TLS needs both TLS_CERT and TLS_KEY (PEM file paths); only ${cert ? 'TLS_CERT' : 'TLS_KEY'} is set`);
  return { certFile: resolve(cert), keyFile: resolve(key) };
}

function absoluteUrl(name: string, v: string): URL {
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new Error(`${name} must be an absolute URL, got "${v}"`);
  }
  if (u.protocol !== 'https:' && !(u.protocol === 'http:' && loopbackHost(u.hostname))) {
    throw new Error(`${name} must be https:// (plain http only on loopback, for tests), got "${v}"`);
  }
  if (u.username || u.password || u.hash) throw new Error(`${name} must not carry credentials or a fragment, got "${v}"`);
  return u;
}

/** All four OIDC_* settings or none; the redirect must be this server's callback route. */
function oidcOf(get: (name: string) => string | undefined): OidcConfig | null {
  const names = ['OIDC_ISSUER', 'OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET', 'OIDC_REDIRECT_URL'] as const;
  const set = names.filter((n) => get(n));
  if (set.length === 0) return null;
  if (set.length < names.length) throw new Error(`OIDC sign-in needs ${names.join(', ')}; missing: ${names.filter((n) => !get(n)).join(', ')}`);
  const issuer = absoluteUrl('OIDC_ISSUER', get('OIDC_ISSUER') as string);
  const redirect = absoluteUrl('OIDC_REDIRECT_URL', get('OIDC_REDIRECT_URL') as string);
  if (redirect.pathname !== OIDC_CALLBACK_PATH || redirect.search) {
    throw new Error(`OIDC_REDIRECT_URL must be this server's ${OIDC_CALLBACK_PATH} (e.g. https://slides.example.org${OIDC_CALLBACK_PATH}), got "${redirect.href}"`);
  }
  const name = (get('OIDC_NAME') ?? '').trim().slice(0, 64) || issuer.hostname;
  return { issuer: get('OIDC_ISSUER') as string, clientId: get('OIDC_CLIENT_ID') as string, clientSecret: get('OIDC_CLIENT_SECRET') as string, redirectUrl: redirect.href, name };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, argv: string[] = process.argv.slice(2)): Config {
  const f = flags(argv);
  const get = (name: string): string | undefined => f.get(name.toLowerCase()) ?? env[name];
  const dataDir = resolve(get('DATA_DIR') ?? './data');
  return {
    port: intOf(get('PORT'), 8080, 'PORT', 0, 65535),
    host: get('HOST') ?? '127.0.0.1',
    slidesDir: resolve(get('SLIDES_DIR') ?? './data/slides'),
    slidesBucket: get('SLIDES_URL') ? s3LocationFromEnv(get('SLIDES_URL') as string, env) : null,
    s3BlockKb: intOf(get('S3_BLOCK_KB'), 256, 'S3_BLOCK_KB', 4, 65536),
    s3CacheMb: intOf(get('S3_CACHE_MB'), 512, 'S3_CACHE_MB', 1, 1 << 20),
    dataDir,
    staticDir: resolve(get('STATIC_DIR') ?? './dist'),
    tileCacheMb: intOf(get('TILE_CACHE_MB'), 256, 'TILE_CACHE_MB', 0, 1 << 20),
    decodedCacheMb: intOf(get('DECODED_CACHE_MB'), 128, 'DECODED_CACHE_MB', 0, 1 << 20),
    decodeWorkers: intOf(get('DECODE_WORKERS'), Math.max(1, availableParallelism()), 'DECODE_WORKERS', 1, 64),
    jpegQuality: intOf(get('JPEG_QUALITY'), 85, 'JPEG_QUALITY', 1, 100),
    maxSourcePixels: intOf(get('MAX_SOURCE_PIXELS'), 64_000_000, 'MAX_SOURCE_PIXELS', 1_000_000, 1_000_000_000),
    sampleSlide: boolOf(get('SAMPLE_SLIDE'), true),
    sampleSize: intOf(get('SAMPLE_SIZE'), 24000, 'SAMPLE_SIZE', 1024, 200000),
    logRequests: boolOf(get('LOG_REQUESTS'), Boolean(get('LOG_FILE'))),
    sessionIdleMin: intOf(get('SESSION_IDLE_MIN'), 30, 'SESSION_IDLE_MIN', 1, 24 * 60),
    sessionMaxH: intOf(get('SESSION_MAX_H'), 12, 'SESSION_MAX_H', 1, 24 * 30),
    embedTokenMin: intOf(get('EMBED_TOKEN_MIN'), 15, 'EMBED_TOKEN_MIN', 1, 24 * 60),
    trustProxy: boolOf(get('TRUST_PROXY'), false),
    dormantDays: intOf(get('DORMANT_DAYS'), 90, 'DORMANT_DAYS', 1, 3650),
    embedOrigins: originsOf(get('EMBED_ORIGINS')),
    dbMaxMb: intOf(get('DB_MAX_MB'), 0, 'DB_MAX_MB', 0, 1 << 24),
    storeUrl: storeUrlOf(get('STORE_URL')),
    iiifMaxWidth: intOf(get('IIIF_MAX_WIDTH'), 4096, 'IIIF_MAX_WIDTH', 256, 65536),
    iiifMaxHeight: intOf(get('IIIF_MAX_HEIGHT'), 4096, 'IIIF_MAX_HEIGHT', 256, 65536),
    iiifMaxArea: intOf(get('IIIF_MAX_AREA'), 4096 * 4096, 'IIIF_MAX_AREA', 65536, 1 << 30),
    largeRenders: intOf(get('LARGE_RENDERS'), 1, 'LARGE_RENDERS', 1, 64),
    largeRenderQueue: intOf(get('LARGE_RENDER_QUEUE'), 4, 'LARGE_RENDER_QUEUE', 0, 1024),
    maxOpenSlides: intOf(get('MAX_OPEN_SLIDES'), 64, 'MAX_OPEN_SLIDES', 1, 4096),
    maxLagMs: intOf(get('MAX_LAG_MS'), 250, 'MAX_LAG_MS', 0, 10_000),
    shedBusyPct: intOf(get('SHED_BUSY_PCT'), 0, 'SHED_BUSY_PCT', 0, 100),
    turnBudgetMs: intOf(get('TURN_BUDGET_MS'), 8, 'TURN_BUDGET_MS', 0, 1000),
    imageRequests: intOf(get('IMAGE_REQUESTS'), 16, 'IMAGE_REQUESTS', 1, 4096),
    imageThreadNice: intOf(get('IMAGE_THREAD_NICE'), 10, 'IMAGE_THREAD_NICE', 0, 19),
    imageQueue: intOf(get('IMAGE_QUEUE'), 4096, 'IMAGE_QUEUE', 0, 1 << 20),
    imageQueueWaitMs: intOf(get('IMAGE_QUEUE_WAIT_MS'), 1000, 'IMAGE_QUEUE_WAIT_MS', 0, 600_000),
    slideReadSyncKb: intOf(get('SLIDE_READ_SYNC_KB'), 0, 'SLIDE_READ_SYNC_KB', 0, 16_384),
    allowedHosts: (get('ALLOWED_HOSTS') ?? '').split(',').map((h) => h.trim()).filter(Boolean),
    publicUrl: publicUrlOf(get('PUBLIC_URL')),
    logFile: get('LOG_FILE') ? resolve(get('LOG_FILE') as string) : null,
    logMaxMb: intOf(get('LOG_MAX_MB'), 50, 'LOG_MAX_MB', 1, 1 << 20),
    logKeep: intOf(get('LOG_KEEP'), 5, 'LOG_KEEP', 0, 1000),
    importMaxMb: intOf(get('IMPORT_MAX_MB'), 2048, 'IMPORT_MAX_MB', 1, 1 << 20),
    maskImportMaxPixels: intOf(get('MASK_IMPORT_MAX_PIXELS'), 100_000_000, 'MASK_IMPORT_MAX_PIXELS', 1, 400_000_000),
    maskImportConcurrency: intOf(get('MASK_IMPORT_CONCURRENCY'), 2, 'MASK_IMPORT_CONCURRENCY', 1, 16),
    agreementMaxPixels: intOf(get('AGREEMENT_MAX_PIXELS'), 4_000_000_000, 'AGREEMENT_MAX_PIXELS', 1, 16_000_000_000),
    tls: tlsOf(get('TLS_CERT'), get('TLS_KEY')),
    oidc: oidcOf(get),
    inbox: inboxOf(get),
  };
}
