/**
 * SEC-01, statically: every route of the table the server dispatches
 * through has an access rule, public routes say why they are public, and
 * slide and project rules name a path parameter the route has. A route
 * added without a rule fails here (and in TypeScript).
 * tests/integration/access-control.test.ts calls every one of them.
 */
import { describe, expect, it } from 'vitest';
import { allRoutes, pathFor, ruleKind } from '../helpers/route-walk.js';

const SAMPLES = ['0123456789abcdef01234567', '01234567-89ab-cdef-0123-456789abcdef', '0', 'jpeg', 'x'];

describe('the route table (SEC-01)', () => {
  const routes = allRoutes();

  it('has routes for every kind of resource', () => {
    const paths = routes.map((r) => r.pattern.source);
    for (const what of ['dzi', 'iiif', 'info\\.json', 'manifest\\.json', 'thumbnail', 'annotations', 'masks', 'import', 'export', 'classes', 'health', 'audit', 'auth']) {
      expect(paths.some((p) => p.includes(what)), what).toBe(true);
    }
  });

  it.each(allRoutes().map((r) => [`${r.method} ${r.pattern.source}`, r] as const))('%s has a rule', (_name, route) => {
    const kind = ruleKind(route.access);
    expect(kind, 'an access rule: public (with its reason), signedIn, global roles, or a slide/project permission').not.toBeNull();
    if (kind === 'slide' || kind === 'project') {
      const a = route.access as { slide?: number; project?: number };
      const param = a.slide ?? a.project ?? -1;
      const groups = pathFor(route, SAMPLES).match(route.pattern)?.length ?? 0;
      expect(param, 'the rule names a parameter of the path').toBeLessThan(groups - 1);
    }
  });

  it('has no two routes for one path and method, so their order in the table decides nothing', () => {
    for (const route of routes) {
      const path = pathFor(route, SAMPLES);
      const others = routes.filter((r) => r !== route && r.method === route.method && r.pattern.test(path));
      expect(others.map((r) => r.pattern.source), `${route.method} ${path}`).toEqual([]);
    }
  });

  it('knows a route without a rule when it sees one', () => {
    expect(ruleKind(undefined)).toBeNull();
    expect(ruleKind({ public: '' })).toBeNull();
    expect(ruleKind({ global: [] })).toBeNull();
  });

  it('lets only sign-in (password and OIDC), setup, status and health through without a credential', () => {
    const open = routes.filter((r) => ruleKind(r.access) === 'public').map((r) => `${r.method} ${pathFor(r, SAMPLES)}`);
    expect(open.sort()).toEqual(['GET /api/auth/oidc/callback', 'GET /api/auth/oidc/start', 'GET /api/auth/status', 'GET /api/health', 'POST /api/auth/session', 'POST /api/auth/setup']);
  });
});
