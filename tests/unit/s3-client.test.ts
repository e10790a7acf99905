// The S3 calls of the slide reader (issue 16) against a stubbed fetch: listing
// page by page, hostile listing XML, status codes to slide codes, and the
// SLIDES_URL configuration's refusals. The real store is s3rver in
// tests/integration/s3-slides.test.ts.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { S3Client, s3LocationFromEnv } from '../../tiles-server/storage/s3-client.js';

const env = { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', S3_ENDPOINT: 'http://store.test:9000' };
const client = (): S3Client => new S3Client(s3LocationFromEnv('s3://slides/lab', env));

function answer(status: number, body = '', headers: Record<string, string> = {}): Response {
  return new Response(status === 204 || status === 304 ? null : body, { status, headers });
}

afterEach(() => vi.unstubAllGlobals());

describe('S3 client', () => {
  it('lists every page, following the continuation token, with the prefix and path style', async () => {
    const urls: string[] = [];
    const page = (keys: string[], next?: string): string =>
      `<?xml version="1.0"?><ListBucketResult><IsTruncated>${next ? 'true' : 'false'}</IsTruncated>${next ? `<NextContinuationToken>${next}</NextContinuationToken>` : ''}${keys
        .map((k) => `<Contents><Key>${k}</Key><Size>10</Size><ETag>"e"</ETag><LastModified>2026-01-01T00:00:00.000Z</LastModified></Contents>`)
        .join('')}</ListBucketResult>`;
    const pages = [page(['lab/a.svs', 'lab/b &amp; c.svs'], 'tok/1+'), page(['lab/d.svs'])];
    vi.stubGlobal('fetch', async (url: string, init: RequestInit) => {
      urls.push(url);
      expect((init.headers as Record<string, string>).authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AK\//);
      return answer(200, pages.shift());
    });
    const keys: string[] = [];
    for await (const p of client().list()) keys.push(...p.map((o) => o.key));
    expect(keys).toEqual(['lab/a.svs', 'lab/b & c.svs', 'lab/d.svs']);
    expect(urls[0]).toBe('http://store.test:9000/slides?list-type=2&prefix=lab%2F');
    expect(urls[1]).toBe('http://store.test:9000/slides?list-type=2&prefix=lab%2F&continuation-token=tok%2F1%2B');
  });

  it('refuses a listing with a DOCTYPE (READ-19 style entity tricks) as unavailable storage', async () => {
    vi.stubGlobal('fetch', async () => answer(200, '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><ListBucketResult/>'));
    const it = client().list();
    await expect(it.next()).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
  });

  it('turns store answers into slide codes, never naming the key', async () => {
    const c = client();
    const cases: Array<[Response, string]> = [
      [answer(404), 'SLIDE_NOT_FOUND'],
      [answer(412), 'SLIDE_CHANGED'],
      [answer(403), 'STORAGE_UNAVAILABLE'],
      [answer(500), 'STORAGE_UNAVAILABLE'],
      [answer(206, 'abc', { etag: '"other"' }), 'SLIDE_CHANGED'],
      [answer(206, 'ab', { etag: '"v1"' }), 'STORAGE_UNAVAILABLE'],
    ];
    for (const [res, code] of cases) {
      vi.stubGlobal('fetch', async () => res);
      const err = await c.getRange('lab/secret-name.svs', 0, 3, '"v1"').catch((e: unknown) => e);
      expect(err).toMatchObject({ code });
      expect(String((err as Error).message)).not.toContain('secret-name');
    }
    vi.stubGlobal('fetch', async () => {
      throw new TypeError('fetch failed');
    });
    await expect(c.getRange('lab/a', 0, 3, '')).rejects.toMatchObject({ code: 'STORAGE_UNAVAILABLE' });
    // a store that ignores Range answers 200 with the whole object: the range is cut out of it
    vi.stubGlobal('fetch', async () => answer(200, 'abcdefgh'));
    expect(String(await c.getRange('lab/a', 2, 5, ''))).toBe('cde');
  });

  it('refuses a bad SLIDES_URL, endpoint or missing credentials at start', () => {
    expect(() => s3LocationFromEnv('http://slides', env)).toThrow(/SLIDES_URL/);
    expect(() => s3LocationFromEnv('s3://UPPER', env)).toThrow(/SLIDES_URL/);
    expect(() => s3LocationFromEnv('s3://slides', { ...env, S3_ENDPOINT: 'ftp://x' })).toThrow(/S3_ENDPOINT/);
    expect(() => s3LocationFromEnv('s3://slides', { AWS_ACCESS_KEY_ID: 'AK' })).toThrow(/AWS_SECRET_ACCESS_KEY/);
    const aws = s3LocationFromEnv('s3://slides/a/b', { AWS_ACCESS_KEY_ID: 'AK', AWS_SECRET_ACCESS_KEY: 'SK', AWS_REGION: 'eu-west-1' });
    expect({ host: aws.endpoint.host, pathStyle: aws.pathStyle, prefix: aws.prefix }).toEqual({ host: 's3.eu-west-1.amazonaws.com', pathStyle: false, prefix: 'a/b/' });
  });
});
