/** Entry point: `node build/tiles-server/main.js` (npm start). */
import './env-init.js';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startServer } from './app.js';
import { checkBind, loadConfig } from './config.js';
import { PRIVATE_FILE_MODE, privateDir, tighten } from './private-files.js';
import { writeSampleSlide } from './sample/sample-slide.js';
import { scanSlideFolder } from './slides/scan.js';
import { loadTls } from './tls.js';

const say = (line: string): void => void process.stdout.write(`${line}\n`);

async function serverSecret(dataDir: string): Promise<string> {
  const file = join(dataDir, 'server-secret');
  tighten(file, PRIVATE_FILE_MODE, say);
  try {
    const s = (await readFile(file, 'utf8')).trim();
    if (/^[0-9a-f]{64}$/.test(s)) return s;
  } catch {
    // first start
  }
  const s = randomBytes(32).toString('hex');
  await writeFile(file, `${s}\n`, { mode: PRIVATE_FILE_MODE });
  return s;
}

async function main(): Promise<void> {
  const cfg = loadConfig();
  checkBind(cfg);
  // a bad certificate or key stops the start before anything is written (startServer reads them again)
  if (cfg.tls) loadTls(cfg.tls);
  privateDir(cfg.dataDir, say);
  await mkdir(cfg.slidesDir, { recursive: true });
  const secret = await serverSecret(cfg.dataDir);

  // the sample goes into an empty local folder only; a bucket is never written to
  if (cfg.sampleSlide && !cfg.slidesBucket) {
    const existing = await scanSlideFolder(cfg.slidesDir, (rel) => rel);
    if (existing.size === 0) {
      const path = join(cfg.slidesDir, 'sample', 'sample-he.tiff');
      process.stdout.write(`Slide folder ${cfg.slidesDir} is empty: writing a ${cfg.sampleSize}x${cfg.sampleSize} sample slide (first start only)\n`);
      const t0 = performance.now();
      let shown = -1;
      await writeSampleSlide(path, {
        width: cfg.sampleSize,
        height: cfg.sampleSize,
        onProgress: (f) => {
          const pct = Math.floor(f * 10) * 10;
          if (pct !== shown) {
            shown = pct;
            process.stdout.write(`  sample slide ${pct}%\n`);
          }
        },
      });
      process.stdout.write(`  sample slide written in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    }
  }

  const corsOrigins = (process.env['CORS_ORIGINS'] ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  const running = await startServer(cfg, { secret, corsOrigins, log: say });
  const from = cfg.slidesBucket ? `bucket ${cfg.slidesBucket.bucket} at ${cfg.slidesBucket.endpoint.origin}` : cfg.slidesDir;
  process.stdout.write(`WSI annotate serving ${running.service.registry.list().length} slide(s) from ${from}\n`);
  process.stdout.write(`Annotations are saved in ${join(cfg.dataDir, 'wsi.db')}\n`);
  // no account yet: a one-time link (in the fragment, so it never reaches a request log) makes the first admin
  const setup = await running.auth.setupToken();
  if (setup) {
    process.stdout.write(`First start: no administrator yet. On this machine, open\n  ${running.url}/signin.html#setup=${setup}\n`);
    process.stdout.write(`to create one (the link works once, for an hour, from this machine only; restart for a new one)\n`);
  }
  process.stdout.write(`Open ${running.url}/\n`);

  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: shutting down\n`);
    running.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`tiles-server failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
