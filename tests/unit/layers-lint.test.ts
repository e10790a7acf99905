/**
 * The layer matrix holds (eslint-rules/layers.js): for every pair of
 * layers, an import planted in a file of one layer pointing at a real file
 * of the other is linted with ESLint's Node API and the project's own
 * config; the lint must fail exactly where the matrix forbids the edge
 * (ui → viewer → tools, session → services → state → core; workers → core;
 * tiles-server → core). One wrong-direction import is also written to disk
 * and caught by a plain lint of the files, as `npm run lint` would.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { ESLint } from 'eslint';
import { afterAll, describe, expect, it } from 'vitest';
import { LAYERS, MAY_IMPORT, MAY_IMPORT_TYPES, forbidden, layerOf } from '../../eslint-rules/layers.js';
import { ROOT } from '../helpers/paths.js';

/** A real file in each layer to import, and where a planted file of that layer lives. */
const SAMPLE: Record<string, { target: string; planted: string }> = {
  ui: { target: 'src/ui/wsi-app.ts', planted: 'src/ui/__planted__.ts' },
  viewer: { target: 'src/viewer/view-transform.ts', planted: 'src/viewer/__planted__.ts' },
  tools: { target: 'src/tools/registry.ts', planted: 'src/tools/__planted__.ts' },
  session: { target: 'src/session/mask-session.ts', planted: 'src/session/__planted__.ts' },
  services: { target: 'src/services/http.ts', planted: 'src/services/__planted__.ts' },
  state: { target: 'src/state/selection.ts', planted: 'src/state/__planted__.ts' },
  core: { target: 'src/core/tile-grid.ts', planted: 'src/core/__planted__.ts' },
  protocol: { target: 'workers/protocol.ts', planted: 'workers/protocol.ts' },
  workers: { target: 'workers/mask-ops.ts', planted: 'workers/__planted__.ts' },
  'tiles-server': { target: 'tiles-server/config.ts', planted: 'tiles-server/__planted__.ts' },
};

const eslint = new ESLint({ cwd: ROOT });

function specifier(from: string, to: string): string {
  const rel = relative(join(ROOT, from, '..'), join(ROOT, to)).split('\\').join('/').replace(/\.ts$/, '.js');
  return rel.startsWith('.') ? rel : `./${rel}`;
}

async function layerErrors(file: string, code: string): Promise<string[]> {
  const [r] = await eslint.lintText(code, { filePath: join(ROOT, file) });
  return (r?.messages ?? []).filter((m) => m.ruleId === 'layers/direction').map((m) => m.message);
}

const names = LAYERS.map((l) => l.name);
const pairs = names.flatMap((from) => names.filter((to) => to !== from && from !== 'protocol').map((to) => [from, to] as const));

describe('the layer matrix', () => {
  it('knows every layer, and the samples are in the layers they stand for', () => {
    expect(Object.keys(MAY_IMPORT).sort()).toEqual([...names].sort());
    for (const [name, s] of Object.entries(SAMPLE)) {
      expect(layerOf(s.target)).toBe(name);
      expect(layerOf(s.planted)).toBe(name);
    }
  });

  it("is the README's: inward only, and tiles-server and workers see core alone", () => {
    expect(MAY_IMPORT['core']).toEqual([]);
    expect(MAY_IMPORT['tiles-server']).toEqual(['core']);
    expect(MAY_IMPORT['state']).toEqual(['core']);
    expect(forbidden('core', 'state', false)).toMatch(/core may import nothing else/);
    expect(forbidden('tiles-server', 'state', false)).not.toBeNull();
    expect(forbidden('workers', 'state', false)).not.toBeNull();
    expect(forbidden('session', 'protocol', true)).toBeNull();
    expect(forbidden('session', 'protocol', false)).toMatch(/import type/);
  });

  it.each(pairs)('%s → %s: the lint fails exactly when the matrix forbids it', async (from, to) => {
    const file = (SAMPLE[from] as { planted: string }).planted;
    const spec = specifier(file, (SAMPLE[to] as { target: string }).target);
    const value = await layerErrors(file, `import * as planted from '${spec}';\nexport const x = planted;\n`);
    const allowed = MAY_IMPORT[from]?.includes(to) ?? false;
    if (allowed) expect(value).toEqual([]);
    else {
      expect(value).toHaveLength(1);
      expect(value[0]).toContain(`${from} → ${to}`);
    }
    // a type-only import is allowed only where the matrix says so (the worker protocol)
    const types = await layerErrors(file, `import type * as planted from '${spec}';\nexport type X = typeof planted;\n`);
    expect(types.length === 0).toBe(allowed || (MAY_IMPORT_TYPES[from as keyof typeof MAY_IMPORT_TYPES]?.includes(to) ?? false));
  });

  it('refuses re-exports and dynamic imports the same way', async () => {
    expect(await layerErrors('src/core/__planted__.ts', `export { Selection } from '../state/selection.js';\n`)).toHaveLength(1);
    expect(await layerErrors('src/state/__planted__.ts', `export const m = () => import('../viewer/view-transform.js');\n`)).toHaveLength(1);
  });

  it('keeps core free of the DOM libraries', async () => {
    expect(await layerErrors('src/core/__planted__.ts', `import { html } from 'lit';\nexport const t = html\`\`;\n`)).toEqual(['core must not use lit']);
  });

  const onDisk = join(ROOT, 'src/core/__planted_wrong_direction__.ts');
  afterAll(() => rmSync(onDisk, { force: true }));

  it('a wrong-direction import written to disk fails the lint of the tree', async () => {
    writeFileSync(onDisk, `/** planted by tests/unit/layers-lint.test.ts */\nimport { Selection } from '../state/selection.js';\nexport const s = Selection;\n`);
    const [r] = await eslint.lintFiles([onDisk]);
    expect(r?.errorCount).toBe(1);
    expect(r?.messages[0]?.ruleId).toBe('layers/direction');
    expect(r?.messages[0]?.message).toContain('core → state');
  });
});
