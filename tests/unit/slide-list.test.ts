/** The slide list's search, sort, folders and badge text (src/state/slide-list.ts), as tables. */
import { describe, expect, it } from 'vitest';
import { byFolder, filterAndSort, isSlideSort, nameInFolder, paintedArea, type ListedSlide } from '../../src/state/slide-list.js';

const S = (id: string, name: string, bytes: number, addedAt: string, objects: number, folder: string | null = null): ListedSlide => ({ id, name, bytes, addedAt, objects, folder });

const slides = [
  S('a', 'case-10.svs', 300, '2026-01-03T00:00:00Z', 5, 'slides/Zürich'),
  S('b', 'case-2.svs', 100, '2026-01-01T00:00:00Z', 50),
  S('c', 'Case-1.svs', 200, '2026-01-02T00:00:00Z', 0, 'slides/Basel'),
  S('d', 'other.tif', 200, '2026-01-02T00:00:00Z', 5),
];
const ids = (xs: ListedSlide[]): string => xs.map((s) => s.id).join('');

describe('slide list', () => {
  it.each([
    ['name', 'cbad'],
    ['size', 'acdb'],
    ['added', 'acdb'],
    ['objects', 'badc'],
  ] as const)('sorts by %s (ties by name, numbers in names in numeric order)', (sort, order) => {
    expect(ids(filterAndSort(slides, '', sort))).toBe(order);
  });

  it.each([
    ['', 'cbad'],
    ['case', 'cba'],
    ['CASE 1', 'ca'],
    ['zurich', 'a'],
    ['basel case-1', 'c'],
    ['nothing', ''],
    ['   ', 'cbad'],
  ])('finds %j by every word in the name or folder, case and accents ignored', (query, found) => {
    expect(ids(filterAndSort(slides, query, 'name'))).toBe(found);
  });

  it('groups the sorted slides by folder: the top level first, then folders by name, the order kept inside', () => {
    const groups = byFolder(filterAndSort(slides, '', 'objects'));
    expect(groups.map((g) => [g.folder, ids(g.slides)])).toEqual([
      ['', 'bd'],
      ['slides/Basel', 'c'],
      ['slides/Zürich', 'a'],
    ]);
    expect(byFolder([])).toEqual([]);
  });

  it('knows its sorts and refuses others (a stored choice from an older version)', () => {
    expect(['name', 'size', 'added', 'objects'].every(isSlideSort)).toBe(true);
    expect(isSlideSort('toString')).toBe(false);
    expect(isSlideSort('bytes')).toBe(false);
  });

  it.each([
    [0, 0.25, ''],
    [1000, null, '1,000 px painted'],
    [1000, 0.25, '63 µm² painted'],
    [4_000_000, 0.25, '0.25 mm² painted'],
    [400_000_000, 0.5, '100.0 mm² painted'],
  ])('names %d labelled pixels at %s µm/px as %j', (px, mpp, text) => {
    expect(paintedArea(px, mpp)).toBe(text);
  });
});

describe('names under a folder heading', () => {
  it.each([
    [{ id: 'x', name: 'slides/Smith_2024/case-3.tif', bytes: 0, folder: 'slides/Smith_2024' }, 'case-3.tif'],
    [{ id: 'x', name: 'top.svs', bytes: 0, folder: null }, 'top.svs'],
    [{ id: 'x', name: 'BR-001', bytes: 0 }, 'BR-001'],
    [{ id: 'x', name: 'a/bc.tif', bytes: 0, folder: 'a/b' }, 'a/bc.tif'],
  ])('%j shows as %s', (s, shown) => {
    expect(nameInFolder(s)).toBe(shown);
  });
});
