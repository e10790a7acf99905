/**
 * The slide list's search, sort and folders, apart from the page that
 * shows them so they can be tested as tables: what a lab with hundreds of
 * slides per project needs to find one (issue 11: search, sort by name,
 * size, date added and annotation count, folders as in SLIDES_DIR).
 */

/** What the list needs of a slide (the server's slide summary has more). */
export interface ListedSlide {
  id: string;
  name: string;
  bytes: number;
  /** ISO time the slide was added to the project. */
  addedAt?: string;
  /** Its folder inside the slide folder ('' or null: at the top; absent for those who see study codes only). */
  folder?: string | null;
  objects?: number;
  labelledPx?: number;
  mpp?: number | null;
}

export type SlideSort = 'name' | 'size' | 'added' | 'objects';

/** Each sort: its label and its order (ties broken by name, then id, so the order is stable). */
export const SLIDE_SORTS: Record<SlideSort, { label: string; compare: (a: ListedSlide, b: ListedSlide) => number }> = {
  name: { label: 'Name', compare: () => 0 },
  size: { label: 'Largest', compare: (a, b) => b.bytes - a.bytes },
  added: { label: 'Newest', compare: (a, b) => (b.addedAt ?? '').localeCompare(a.addedAt ?? '') },
  objects: { label: 'Most annotated', compare: (a, b) => (b.objects ?? 0) - (a.objects ?? 0) },
};

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: 'base' });

export function isSlideSort(s: string): s is SlideSort {
  return Object.hasOwn(SLIDE_SORTS, s);
}

/**
 * The slides whose name or folder holds every word of `query` (case and
 * accents ignored), sorted. An empty query keeps every slide.
 */
export function filterAndSort<T extends ListedSlide>(slides: readonly T[], query: string, sort: SlideSort): T[] {
  const words = fold(query).split(/\s+/).filter(Boolean);
  const kept = words.length === 0 ? [...slides] : slides.filter((s) => {
    const text = fold(`${s.folder ?? ''}/${s.name}`);
    return words.every((w) => text.includes(w));
  });
  const by = SLIDE_SORTS[sort].compare;
  return kept.sort((a, b) => by(a, b) || collator.compare(a.name, b.name) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

export interface SlideFolder<T> {
  /** The folder path ('' for the slides at the top of the slide folder). */
  folder: string;
  slides: T[];
}

/**
 * The sorted slides in their folders: the top-level slides first, then
 * each folder by name; the sort holds inside each folder. One group only
 * when no slide has a folder (or the caller sees study codes only).
 */
export function byFolder<T extends ListedSlide>(sorted: readonly T[]): Array<SlideFolder<T>> {
  const groups = new Map<string, T[]>();
  for (const s of sorted) {
    const f = s.folder ?? '';
    let g = groups.get(f);
    if (!g) groups.set(f, (g = []));
    g.push(s);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : collator.compare(a, b)))
    .map(([folder, slides]) => ({ folder, slides }));
}

/** A slide's painted area for its badge: µm² or mm² with MPP, pixels without. */
export function paintedArea(labelledPx: number, mpp: number | null | undefined): string {
  if (labelledPx <= 0) return '';
  if (!mpp) return `${labelledPx.toLocaleString('en-US')} px painted`;
  const um2 = labelledPx * mpp * mpp;
  return um2 >= 1e5 ? `${(um2 / 1e6).toFixed(um2 >= 1e7 ? 1 : 2)} mm² painted` : `${Math.round(um2).toLocaleString('en-US')} µm² painted`;
}

/** A slide's name shown under its folder's heading: the part after the folder. */
export function nameInFolder(s: ListedSlide): string {
  const f = s.folder;
  return f && s.name.startsWith(`${f}/`) ? s.name.slice(f.length + 1) : s.name;
}

/** Lower case without accents, for matching what a person types. */
function fold(s: string): string {
  return s.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}
