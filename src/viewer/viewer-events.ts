/**
 * The events of <wsi-viewer>, typed: the one list of their names and
 * details, with the `HTMLElementEventMap` entries that make
 * `viewer.addEventListener('wsi-view-change', (e) => e.detail.view)` typed
 * without a cast. Every event bubbles and is composed (it leaves the shadow
 * DOM), so a portal can listen on the element or on an ancestor.
 */
import type { ViewState } from '../core/deep-link.js';
import type { SlideDetail } from '../services/slide-api.js';

export interface SlideOpenDetail {
  slide: string;
  info: SlideDetail;
}

export interface SlideErrorDetail {
  slide: string;
  /** An error code of src/core/errors.ts, or OPEN_FAILED / FETCH_FAILED / SLIDE_ERROR. */
  code: string;
  message: string;
}

export interface ViewChangeDetail {
  slide: string;
  view: ViewState;
}

export interface ClassChangeDetail {
  /** The class given to new objects and painted. */
  name: string;
}

export interface AnnotationsImportedDetail {
  /** Objects the server imported. */
  imported: number;
}

export interface WsiViewerEventMap {
  'wsi-slide-open': CustomEvent<SlideOpenDetail>;
  'wsi-slide-error': CustomEvent<SlideErrorDetail>;
  'wsi-view-change': CustomEvent<ViewChangeDetail>;
  'wsi-class-change': CustomEvent<ClassChangeDetail>;
  'wsi-annotations-imported': CustomEvent<AnnotationsImportedDetail>;
}

/** The event names, in the order the README lists them. */
export const VIEWER_EVENTS: ReadonlyArray<keyof WsiViewerEventMap> = ['wsi-slide-open', 'wsi-slide-error', 'wsi-view-change', 'wsi-class-change', 'wsi-annotations-imported'];

type DetailOf<K extends keyof WsiViewerEventMap> = WsiViewerEventMap[K] extends CustomEvent<infer D> ? D : never;

/** Dispatches one of the viewer's events from `el` (bubbling, composed). */
export function fire<K extends keyof WsiViewerEventMap>(el: EventTarget, name: K, detail: DetailOf<K>): void {
  el.dispatchEvent(new CustomEvent(name, { detail, bubbles: true, composed: true }));
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface HTMLElementEventMap extends WsiViewerEventMap {}
}
