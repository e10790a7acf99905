/**
 * The route table as the tests walk it (SEC-01): every route the server
 * dispatches, with a concrete path for each (each parameter filled with
 * the first sample that its pattern accepts). The table is built with
 * stand-in services: the rules are data, and no handler runs here.
 */
import type { Access } from '../../tiles-server/http/authorize.js';
import { routeTable } from '../../tiles-server/http/route-table.js';
import type { Route } from '../../tiles-server/http/routes.js';

export function allRoutes(): Route[] {
  const stub = {} as never;
  return routeTable({ auth: stub, admin: stub, audit: stub, annotations: stub, palettes: stub, masks: stub, modelRuns: stub, reviews: stub, readings: stub, tiles: stub, tileOptions: stub, agreement: stub, consensus: stub, softLabels: stub });
}

export type RuleKind = 'public' | 'signedIn' | 'global' | 'slide' | 'project';

/** The kind of a rule, or null when the value is not one of the rules (a route without one). */
export function ruleKind(a: Access | undefined): RuleKind | null {
  if (!a || typeof a !== 'object') return null;
  if ('public' in a) return typeof a.public === 'string' && a.public.length > 10 ? 'public' : null;
  if ('signedIn' in a) return a.signedIn === true ? 'signedIn' : null;
  if ('global' in a) return Array.isArray(a.global) && a.global.length > 0 ? 'global' : null;
  if ('slide' in a) return Number.isInteger(a.slide) && typeof a.action === 'string' ? 'slide' : null;
  if ('project' in a) return Number.isInteger(a.project) && typeof a.action === 'string' ? 'project' : null;
  return null;
}

/** The top-level capture groups of a pattern's source, and the literal text between them. */
function split(source: string): { literals: string[]; groups: string[] } {
  const literals: string[] = [];
  const groups: string[] = [];
  let depth = 0;
  let text = '';
  let group = '';
  for (let i = 0; i < source.length; i++) {
    const c = source[i] as string;
    if (c === '\\') {
      const pair = source.slice(i, i + 2);
      if (depth > 0) group += pair;
      else text += pair;
      i++;
      continue;
    }
    if (c === '(' && depth++ === 0) {
      literals.push(text);
      text = '';
      continue;
    }
    if (c === ')' && --depth === 0) {
      groups.push(group);
      group = '';
      continue;
    }
    if (depth > 0) group += c;
    else text += c;
  }
  literals.push(text);
  return { literals, groups };
}

/** A concrete path for a route: its parameters from `samples`, in order of preference. */
export function pathFor(route: Route, samples: readonly string[]): string {
  const { literals, groups } = split(route.pattern.source);
  let out = '';
  literals.forEach((lit, i) => {
    // an optional letter (`tiff?`) is left out; escaped characters stand for themselves
    out += lit.replace(/^\^/, '').replace(/\$$/, '').replace(/(\w)\?/g, '').replace(/\\(.)/g, '$1');
    const g = groups[i];
    if (g === undefined) return;
    const fit = samples.find((s) => new RegExp(`^(?:${g})$`).test(s));
    if (fit === undefined) throw new Error(`no sample fits (${g}) in ${route.pattern.source}`);
    out += fit;
  });
  if (!route.pattern.test(out)) throw new Error(`${out} does not match ${route.pattern.source}`);
  return out;
}
