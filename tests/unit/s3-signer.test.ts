// SigV4 for the S3 slide reader (issue 16): AWS's published "GET Object" example,
// and the encoding rules that differ from encodeURIComponent.
import { describe, expect, it } from 'vitest';
import { encodeKeyPath, signRequest, uriEncode } from '../../tiles-server/storage/s3-signer.js';

const credentials = { accessKeyId: 'AKIAIOSFODNN7EXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY' };

describe('S3 request signing (SigV4)', () => {
  it("matches AWS's example: GET /test.txt with Range bytes=0-9", () => {
    const h = signRequest({
      method: 'GET',
      host: 'examplebucket.s3.amazonaws.com',
      path: '/test.txt',
      headers: { range: 'bytes=0-9' },
      region: 'us-east-1',
      credentials,
      date: new Date(Date.UTC(2013, 4, 24)),
    });
    expect(h.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
    expect(h['x-amz-date']).toBe('20130524T000000Z');
    expect(h.host).toBeUndefined();
  });

  it('signs a session token and changes the signature with the query', () => {
    const base = { method: 'GET' as const, host: 'h', path: '/b', region: 'eu-west-1', date: new Date(0) };
    const a = signRequest({ ...base, credentials, query: { 'list-type': '2', prefix: 'a b' } });
    const b = signRequest({ ...base, credentials, query: { 'list-type': '2', prefix: 'a+b' } });
    expect(a.authorization).not.toBe(b.authorization);
    const t = signRequest({ ...base, credentials: { ...credentials, sessionToken: 'tok' } });
    expect(t['x-amz-security-token']).toBe('tok');
    expect(t.authorization).toContain('x-amz-security-token');
  });

  it('encodes keys as SigV4 wants: unreserved kept, space %20, slash kept in paths, UTF-8 bytes', () => {
    expect(uriEncode("a b+c*d~e_f.g-h!'()")).toBe('a%20b%2Bc%2Ad~e_f.g-h%21%27%28%29');
    expect(encodeKeyPath('/bucket', 'dir/slide é.svs')).toBe('/bucket/dir/slide%20%C3%A9.svs');
    expect(uriEncode('a/b')).toBe('a%2Fb');
  });
});
