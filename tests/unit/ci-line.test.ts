/** `.ci/run` runs exactly the README's test line, so CI tests what a user's machine gets. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/paths.js';

describe('the README test line', () => {
  it('is what .ci/run runs, and installs current versions of the libraries the tests use', () => {
    const line = (text: string): string | undefined => text.split('\n').find((l) => l.startsWith('apt-get update && apt-get install'));
    const readme = line(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    expect(readme).toBeDefined();
    expect(line(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'))).toBe(readme);
    // named explicitly: `apt-get install -y` upgrades the packages it names, not their libraries
    const names = new Set((readme as string).split('&&')[1]?.trim().split(/\s+/).slice(3));
    for (const p of ['chromium', 'openslide-tools', 'libvips-tools', 'python3-pil', 'python3-tifffile', 'libtiff6', 'libopenslide0', 'libvips42', 'libjpeg62-turbo', 'libpng16-16', 'libsqlite3-0', 'libzstd1']) {
      expect(names.has(p), p).toBe(true);
    }
  });
});
