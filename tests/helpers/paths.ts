import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GENERATED = join(ROOT, 'tests', '.generated');
export const FIXTURES = join(GENERATED, 'fixtures');
/**
 * The generated slides the browser tests open, and only those (hard links made by the global set-up).
 * A page shows the slide list beside the viewer, and on a fresh test server each of the list's
 * thumbnails is rendered once: the 29 slides of FIXTURES/slides cost every browser test's server about
 * 1.5 s of CPU before its viewer's tiles. Tests of the list itself use FIXTURES.
 */
export const VIEWER_SLIDES = join(GENERATED, 'viewer-slides');
export const VIEWER_SLIDE_FILES = ['aperio-jpeg-256-x2.svs', 'aperio-jpeg-240-x4.svs', 'generic-deflate-256.tif'] as const;
/** Slide folder for server tests: the generated slides and the broken corpus. */
export const SERVER_MAIN = join(ROOT, 'build', 'tiles-server', 'main.js');
export const DIST = join(ROOT, 'dist');
/** Real third-party files shared by the team; absent on a user's fresh clone. */
export const SHARED_FIXTURES = resolve(ROOT, '..', 'shared', 'fixtures');
export const HAS_SHARED = existsSync(join(SHARED_FIXTURES, 'SOURCES.md'));

export function requireBuild(): void {
  if (!existsSync(SERVER_MAIN) || !existsSync(join(DIST, 'index.html'))) {
    throw new Error('the app is not built: run `npm run build` (npm test does this first)');
  }
}
