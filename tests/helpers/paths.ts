import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const GENERATED = join(ROOT, 'tests', '.generated');
export const FIXTURES = join(GENERATED, 'fixtures');
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
