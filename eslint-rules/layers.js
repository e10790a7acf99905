/**
 * The layer matrix of the code, in one place, and the ESLint rule that
 * keeps imports pointing inward:
 *
 *   ui → viewer → tools, session → services → state → core
 *   workers → core            tiles-server → core
 *
 * A layer may import itself and the layers listed for it, nothing else.
 * workers/protocol.ts (the worker API, types only) may be imported by the
 * viewer and the sessions with `import type`. tests/unit/layers-lint.test.ts
 * plants a wrong-direction import for every pair of layers and checks that
 * this rule refuses exactly the ones the matrix forbids.
 */
import path from 'node:path';

/** Layers by folder (repo-relative, posix); the first match wins, so the protocol file comes before workers/. */
export const LAYERS = [
  { name: 'ui', paths: ['src/ui/', 'src/main.ts'] },
  { name: 'viewer', paths: ['src/viewer/'] },
  { name: 'tools', paths: ['src/tools/'] },
  { name: 'session', paths: ['src/session/'] },
  { name: 'services', paths: ['src/services/'] },
  { name: 'state', paths: ['src/state/'] },
  { name: 'core', paths: ['src/core/'] },
  { name: 'protocol', paths: ['workers/protocol.ts'] },
  { name: 'workers', paths: ['workers/'] },
  { name: 'tiles-server', paths: ['tiles-server/'] },
];

/** What each layer may import besides itself. */
export const MAY_IMPORT = {
  ui: ['viewer', 'tools', 'session', 'services', 'state', 'core'],
  viewer: ['tools', 'session', 'services', 'state', 'core'],
  tools: ['services', 'state', 'core'],
  session: ['services', 'state', 'core'],
  services: ['state', 'core'],
  state: ['core'],
  core: [],
  protocol: ['core'],
  workers: ['protocol', 'core'],
  'tiles-server': ['core'],
};

/** Imported with `import type` only: the worker API. */
export const MAY_IMPORT_TYPES = {
  viewer: ['protocol'],
  session: ['protocol'],
};

/** Packages a layer must not use (core stays DOM-free and runs in Node and in workers). */
export const BANNED_PACKAGES = {
  core: ['lit', 'openseadragon', 'idb', 'comlink'],
  state: ['lit', 'openseadragon'],
  services: ['lit', 'openseadragon'],
  session: ['lit', 'openseadragon'],
  workers: ['lit', 'openseadragon', 'idb'],
  'tiles-server': ['lit', 'openseadragon', 'idb', 'comlink'],
};

export function layerOf(relPath) {
  const p = relPath.split(path.sep).join('/');
  return LAYERS.find((l) => l.paths.some((x) => (x.endsWith('/') ? p.startsWith(x) : p === x || p === x.replace(/\.ts$/, '.js'))))?.name ?? null;
}

/** null when `from` may import `to` (`typeOnly`: the import is `import type`); otherwise why not. */
export function forbidden(from, to, typeOnly) {
  if (from === to) return null;
  if (MAY_IMPORT[from]?.includes(to)) return null;
  if (typeOnly && MAY_IMPORT_TYPES[from]?.includes(to)) return null;
  if (MAY_IMPORT_TYPES[from]?.includes(to)) return `${from} may import ${to} with \`import type\` only`;
  const allowed = MAY_IMPORT[from] ?? [];
  return `${from} may import ${allowed.length ? allowed.join(', ') : 'nothing else'} (layers: ui → viewer → tools, session → services → state → core; workers → core; tiles-server → core), not ${to}`;
}

function isTypeOnly(node) {
  if (node.importKind === 'type' || node.exportKind === 'type') return true;
  const specs = node.specifiers ?? [];
  return specs.length > 0 && specs.every((s) => s.importKind === 'type' || s.exportKind === 'type');
}

export const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'imports follow the layer matrix (eslint-rules/layers.js)' },
    schema: [{ type: 'object', properties: { root: { type: 'string' } }, required: ['root'], additionalProperties: false }],
    messages: { layer: '{{from}} → {{to}}: {{why}}', pkg: '{{from}} must not use {{pkg}}' },
  },
  create(context) {
    const root = context.options[0].root;
    const file = path.relative(root, context.filename);
    const from = layerOf(file);
    if (!from) return {};
    const check = (node, source, typeOnly) => {
      if (!source || typeof source.value !== 'string') return;
      const spec = source.value;
      if (!spec.startsWith('.')) {
        const pkg = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0];
        if (BANNED_PACKAGES[from]?.includes(pkg)) context.report({ node, messageId: 'pkg', data: { from, pkg } });
        return;
      }
      const target = path.relative(root, path.resolve(path.dirname(context.filename), spec));
      const to = layerOf(target);
      if (!to) return;
      const why = forbidden(from, to, typeOnly);
      if (why) context.report({ node, messageId: 'layer', data: { from, to, why } });
    };
    return {
      ImportDeclaration: (n) => check(n, n.source, isTypeOnly(n)),
      ExportNamedDeclaration: (n) => check(n, n.source, isTypeOnly(n)),
      ExportAllDeclaration: (n) => check(n, n.source, n.exportKind === 'type'),
      ImportExpression: (n) => check(n, n.source, false),
    };
  },
};

export default { rules: { direction: layersRule } };
