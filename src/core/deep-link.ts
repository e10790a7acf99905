/**
 * The viewer's place in the URL hash: `#slide=<id>&x=<px>&y=<px>&zoom=<z>`
 * where x,y is the level-0 pixel at the centre of the view and zoom is screen
 * pixels per image pixel. Reloading the page returns to the same place.
 */
export interface ViewState {
  x: number;
  y: number;
  zoom: number;
}

export interface DeepLink {
  slide: string | null;
  view: ViewState | null;
}

const ID = /^[A-Za-z0-9]{1,64}$/;

export function parseDeepLink(hash: string): DeepLink {
  const params = new URLSearchParams(hash.replace(/^#/, ''));
  const slideRaw = params.get('slide');
  const slide = slideRaw && ID.test(slideRaw) ? slideRaw : null;
  const x = Number(params.get('x'));
  const y = Number(params.get('y'));
  const zoom = Number(params.get('zoom'));
  const ok = params.has('x') && params.has('y') && params.has('zoom') && Number.isFinite(x) && Number.isFinite(y) && Number.isFinite(zoom) && zoom > 0;
  return { slide, view: slide && ok ? { x, y, zoom } : null };
}

export function formatDeepLink(link: DeepLink): string {
  if (!link.slide) return '';
  const p = new URLSearchParams({ slide: link.slide });
  if (link.view) {
    p.set('x', String(Math.round(link.view.x)));
    p.set('y', String(Math.round(link.view.y)));
    p.set('zoom', String(+link.view.zoom.toPrecision(5)));
  }
  return `#${p.toString()}`;
}
