/**
 * The custom-elements manifest the build writes (dist/custom-elements.json,
 * by @custom-elements-manifest/analyzer) describes <wsi-viewer> as the code
 * defines it: its events are the typed events of viewer-events.ts, its CSS
 * custom properties are the ones the styles use, and the README shows
 * exactly this manifest. tests/browser/viewer-contract.test.ts checks the
 * live element against it (attributes, properties, parts, events fired).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { publicMembers, viewerApiMarkdown, viewerDoc, type Manifest } from '../../scripts/viewer-api.js';
import { VIEWER_EVENTS } from '../../src/viewer/viewer-events.js';
import { DIST, ROOT } from '../helpers/paths.js';

const MANIFEST = join(DIST, 'custom-elements.json');

function manifest(): Manifest {
  if (!existsSync(MANIFEST)) throw new Error('dist/custom-elements.json is missing: run `npm run build` (npm test does this first)');
  return JSON.parse(readFileSync(MANIFEST, 'utf8')) as Manifest;
}

/** Every `var(--wsi-…, fallback)` the element's and its panels' styles hold: name → fallbacks seen. */
function cssVarsUsed(): Map<string, Set<string>> {
  const files = ['src/viewer/wsi-viewer.styles.ts', 'src/viewer/panel-styles.ts', 'src/viewer/annotation-panel.ts', 'src/viewer/mask-panel.ts'];
  const used = new Map<string, Set<string>>();
  for (const f of files) {
    const text = readFileSync(join(ROOT, f), 'utf8');
    for (const m of text.matchAll(/var\((--wsi-[a-z-]+),\s*/g)) {
      // the fallback runs to the parenthesis that closes var( (it may hold rgba(…))
      let depth = 0;
      let i = (m.index as number) + m[0].length;
      const start = i;
      for (; i < text.length; i++) {
        if (text[i] === '(') depth++;
        else if (text[i] === ')' && depth-- === 0) break;
      }
      const name = m[1] as string;
      if (!used.has(name)) used.set(name, new Set());
      used.get(name)?.add(text.slice(start, i).trim());
    }
  }
  return used;
}

describe('the custom-elements manifest of <wsi-viewer>', () => {
  it('names the element, its attributes and its JavaScript API', () => {
    const d = viewerDoc(manifest());
    expect(d.tagName).toBe('wsi-viewer');
    expect((d.attributes ?? []).map((a) => a.name)).toEqual(['server', 'slide', 'drawer', 'view', 'annotate', 'paint-min-magnification']);
    for (const a of d.attributes ?? []) expect(a.description, a.name).toBeTruthy();
    const api = publicMembers(d).map((m) => m.name);
    for (const name of ['getView', 'goTo', 'fit', 'setMagnification', 'magnificationNow', 'isFullyLoaded', 'annotationSession', 'annotationLayer', 'openSeadragon']) expect(api).toContain(name);
    // Lit's internal state is not part of the contract
    for (const internal of ['info', 'session', 'host', 'showHelp', 'zoom']) expect(api).not.toContain(internal);
  });

  it('lists the events of viewer-events.ts, each with its detail type', () => {
    const d = viewerDoc(manifest());
    expect((d.events ?? []).map((e) => e.name)).toEqual([...VIEWER_EVENTS]);
    for (const e of d.events ?? []) expect(e.type?.text, e.name).toMatch(/^CustomEvent<\w+Detail>$/);
  });

  it('documents every CSS custom property the styles read, with its default, and no other', () => {
    const d = viewerDoc(manifest());
    const used = cssVarsUsed();
    expect((d.cssProperties ?? []).map((p) => p.name).sort()).toEqual([...used.keys()].sort());
    // one default per property, the same in the styles as in the manifest
    for (const p of d.cssProperties ?? []) expect([...(used.get(p.name) ?? [])], p.name).toEqual([p.default]);
    expect((d.cssParts ?? []).map((p) => p.name)).toEqual(['canvas', 'hud', 'scalebar', 'panel']);
  });

  it('is what the README shows', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain(viewerApiMarkdown(manifest()));
  });
});
