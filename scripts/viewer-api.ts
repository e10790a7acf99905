/**
 * The README's reference of <wsi-viewer>, made from the custom-elements
 * manifest the build writes (dist/custom-elements.json), so the two cannot
 * drift: `node build/scripts/viewer-api.js` prints the Markdown,
 * `--write` puts it into README.md between its markers, and
 * tests/unit/viewer-manifest.test.ts checks that the README holds it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const START = '<!-- wsi-viewer-api:start (generated from dist/custom-elements.json: npm run docs:viewer) -->';
export const END = '<!-- wsi-viewer-api:end -->';

interface Described {
  name: string;
  description?: string;
  type?: { text: string };
  default?: string;
}

export interface ElementDoc {
  tagName?: string;
  attributes?: Array<Described & { fieldName?: string }>;
  members?: Array<Described & { kind: 'field' | 'method'; privacy?: string; static?: boolean; readonly?: boolean; return?: { type?: { text: string } }; parameters?: Described[] }>;
  events?: Described[];
  cssParts?: Described[];
  cssProperties?: Described[];
}

export interface Manifest {
  modules: Array<{ declarations?: Array<ElementDoc & { kind: string; customElement?: boolean }> }>;
}

/** The <wsi-viewer> declaration of the manifest. */
export function viewerDoc(m: Manifest): ElementDoc {
  for (const mod of m.modules) for (const d of mod.declarations ?? []) if (d.tagName === 'wsi-viewer') return d;
  throw new Error('the manifest has no <wsi-viewer>');
}

/** Public members that are not attributes: the element's JavaScript API. */
export function publicMembers(d: ElementDoc): NonNullable<ElementDoc['members']> {
  const attrs = new Set((d.attributes ?? []).map((a) => a.fieldName));
  return (d.members ?? []).filter((m) => !m.static && (m.privacy ?? 'public') === 'public' && !attrs.has(m.name));
}

const cell = (s: string | undefined): string => (s ?? '').replace(/\|/g, '\\|').replace(/\n/g, ' ').trim();
const code = (s: string | undefined): string => (s ? `\`${s.replace(/\|/g, '\\|')}\`` : '');

export function viewerApiMarkdown(m: Manifest): string {
  const d = viewerDoc(m);
  const out: string[] = [START, ''];
  out.push('| Attribute | Property | Type | Meaning |', '|---|---|---|---|');
  for (const a of d.attributes ?? []) out.push(`| \`${a.name}\` | \`${a.fieldName ?? ''}\` | ${code(a.type?.text)} | ${cell(a.description)} |`);
  out.push('', '| Property or method | Type | Meaning |', '|---|---|---|');
  for (const x of publicMembers(d)) {
    const sig = x.kind === 'method' ? `${x.name}(${(x.parameters ?? []).map((p) => p.name).join(', ')})` : x.name;
    const type = x.kind === 'method' ? x.return?.type?.text : x.type?.text;
    out.push(`| \`${sig}\`${x.readonly ? ' (read-only)' : ''} | ${code(type)} | ${cell(x.description)} |`);
  }
  out.push('', '| Event | Detail | When |', '|---|---|---|');
  for (const e of d.events ?? []) out.push(`| \`${e.name}\` | ${code(e.type?.text)} | ${cell(e.description)} |`);
  out.push('', '| CSS part | What |', '|---|---|');
  for (const p of d.cssParts ?? []) out.push(`| \`${p.name}\` | ${cell(p.description)} |`);
  out.push('', '| CSS custom property | Default | What |', '|---|---|---|');
  for (const p of d.cssProperties ?? []) out.push(`| \`${p.name}\` | ${code(p.default)} | ${cell(p.description)} |`);
  out.push('', END);
  return out.join('\n');
}

/** README text with the reference replaced (or an error when the markers are missing). */
export function withReference(readme: string, md: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README.md has no ${START} … ${END} markers`);
  return readme.slice(0, a) + md + readme.slice(b + END.length);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const root = process.cwd();
  const md = viewerApiMarkdown(JSON.parse(readFileSync(join(root, 'dist', 'custom-elements.json'), 'utf8')) as Manifest);
  if (process.argv.includes('--write')) {
    const path = join(root, 'README.md');
    writeFileSync(path, withReference(readFileSync(path, 'utf8'), md));
  } else process.stdout.write(`${md}\n`);
}
