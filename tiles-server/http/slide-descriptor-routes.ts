/**
 * The site and stain of a project slide (issue 15: the report's dataset
 * composition groups slides by them): the project's members read them, its
 * managers set them, versioned (store/slide-descriptors.ts). The values
 * travel only in bodies, never in a URL; the audit record names the fields
 * that changed and the version, never their text.
 */
import { WsiError } from '../../src/core/errors.js';
import type { AuditEvent } from '../audit/audit-log.js';
import { DESCRIPTOR_FIELDS, parseDescriptorChange, type SlideDescriptorStore, type VersionedDescriptors } from '../store/slide-descriptors.js';
import { clientAddress } from './authorize.js';
import { readJson } from './body.js';
import { sendJson } from './respond.js';
import { principal, slideScope, type Route } from './routes.js';

const SLIDE = '([A-Za-z0-9]{1,64})';
const MAX_BODY = 8 * 1024;

export interface SlideDescriptorRoutesOptions {
  store: SlideDescriptorStore;
  audit: (e: AuditEvent) => void;
  trustProxy: boolean;
}

function answer(v: VersionedDescriptors): Record<string, unknown> {
  return { version: v.version, ...v.value, setBy: v.setBy, setAt: v.setAt };
}

export function slideDescriptorRoutes(o: SlideDescriptorRoutesOptions | undefined): Route[] {
  // read at request time: the route walk builds the table without services
  const opts = (): SlideDescriptorRoutesOptions => {
    if (!o) throw new WsiError('NOT_FOUND', 'slide descriptors are not available on this server');
    return o;
  };
  const pattern = new RegExp(`^/api/slides/${SLIDE}/descriptors$`);
  return [
    {
      method: 'GET',
      pattern,
      access: { slide: 0, action: 'view' },
      handler: async (ctx) => {
        const s = slideScope(ctx);
        sendJson(ctx.res, 200, answer(opts().store.get(s.project.id, s.projectSlideId)));
      },
    },
    {
      method: 'PUT',
      pattern,
      access: { slide: 0, action: 'manage' },
      handler: async (ctx) => {
        const s = slideScope(ctx);
        const { version, change } = parseDescriptorChange(await readJson(ctx.req, MAX_BODY, ctx.signal));
        const who = principal(ctx).user.id;
        const { before, after } = opts().store.set(s.project.id, s.projectSlideId, change, version, who, new Date().toISOString());
        const changed = DESCRIPTOR_FIELDS.filter((f) => before.value[f] !== after.value[f]);
        opts().audit({
          actor: who,
          action: 'slide.descriptors',
          projectId: s.project.id,
          target: s.projectSlideId,
          ip: clientAddress(ctx.req, opts().trustProxy),
          // the field names only: a site or stain may narrow down a patient
          detail: { version: after.version, changed: changed.join(',') || 'none' },
        });
        sendJson(ctx.res, 200, answer(after));
      },
    },
  ];
}
