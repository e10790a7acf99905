/**
 * If-None-Match as RFC 9110 defines it: quoted entity tags that may hold
 * commas (our IIIF ETags do), weak tags, `*`, and damaged headers.
 */
import { describe, expect, it } from 'vitest';
import { ifNoneMatchHits, parseIfNoneMatch } from '../../tiles-server/http/respond.js';

const IIIF = '"k1-abc.iiif_0,0,512,512_256,256_default.jpeg"';

describe('If-None-Match', () => {
  it.each([
    ['*', '*'],
    [IIIF, [IIIF]],
    [`"a", ${IIIF} ,W/"b"`, ['"a"', IIIF, '"b"']],
    [`W/${IIIF}`, [IIIF]],
    ['"a,b,c","d"', ['"a,b,c"', '"d"']],
    ['""', ['""']],
    ['', []],
    ['"a", garbage "b"', ['"a"']],
    ['"unterminated', []],
    ['no-quotes', []],
  ])('parses %s', (header, tags) => {
    expect(parseIfNoneMatch(header)).toEqual(tags);
  });

  it('matches an ETag with commas, weakly, in a list, and *', () => {
    expect(ifNoneMatchHits(IIIF, IIIF)).toBe(true);
    expect(ifNoneMatchHits(`W/${IIIF}`, IIIF)).toBe(true);
    expect(ifNoneMatchHits(`"x", ${IIIF}`, IIIF)).toBe(true);
    expect(ifNoneMatchHits('*', IIIF)).toBe(true);
    expect(ifNoneMatchHits(IIIF, `W/${IIIF}`)).toBe(true);
  });

  it('does not match a different tag, a piece of one, or an unquoted copy', () => {
    expect(ifNoneMatchHits('"k1-abc.iiif_0"', IIIF)).toBe(false);
    expect(ifNoneMatchHits(IIIF.slice(1, -1), IIIF)).toBe(false);
    expect(ifNoneMatchHits('"0,0,512,512_256"', IIIF)).toBe(false);
    expect(ifNoneMatchHits('', IIIF)).toBe(false);
  });
});
