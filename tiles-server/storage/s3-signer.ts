/**
 * AWS Signature Version 4 for the few S3 requests the slide reader makes
 * (GET with a byte range, HEAD, ListObjectsV2): the canonical request, the
 * string to sign and the derived key, as AWS documents them. Written here
 * rather than pulling in an SDK: three read-only calls need ~80 lines, and
 * the test checks AWS's own published example. Payloads are always empty.
 */
import { createHash, createHmac } from 'node:crypto';

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
  /** Temporary credentials (STS) carry a token, sent as x-amz-security-token. */
  sessionToken?: string;
}

export interface SignInput {
  method: 'GET' | 'HEAD';
  /** host[:port], as sent in the Host header. */
  host: string;
  /** The path, already URI-encoded (see encodeKeyPath). */
  path: string;
  /** Query parameters, unencoded. */
  query?: Record<string, string>;
  /** Extra headers to sign (e.g. range, if-match), lower-case names. */
  headers?: Record<string, string>;
  region: string;
  credentials: S3Credentials;
  /** The request time; now by default. */
  date?: Date;
}

export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** RFC 3986 unreserved characters stay, everything else is %XX (upper case), as SigV4 requires. */
export function uriEncode(s: string, keepSlash = false): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    if (/[A-Za-z0-9_.~-]/.test(c) || (keepSlash && c === '/')) out += c;
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** An object key as a URI path below the bucket's path ('' for the bucket itself). */
export function encodeKeyPath(prefix: string, key: string): string {
  return `${prefix}/${uriEncode(key, true)}`;
}

function hmac(key: Buffer | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function amzDate(d: Date): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\.\d{3}/, '');
}

/** The headers to send: host, x-amz-date, x-amz-content-sha256, the given ones, the token and Authorization. */
export function signRequest(input: SignInput): Record<string, string> {
  const when = amzDate(input.date ?? new Date());
  const day = when.slice(0, 8);
  const headers: Record<string, string> = {
    ...(input.headers ?? {}),
    host: input.host,
    'x-amz-content-sha256': EMPTY_SHA256,
    'x-amz-date': when,
  };
  if (input.credentials.sessionToken) headers['x-amz-security-token'] = input.credentials.sessionToken;
  const names = Object.keys(headers)
    .map((n) => n.toLowerCase())
    .sort();
  const lower: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) lower[k.toLowerCase()] = v.trim().replace(/\s+/g, ' ');
  const query = Object.entries(input.query ?? {})
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const signedHeaders = names.join(';');
  const canonical = [input.method, input.path || '/', query, names.map((n) => `${n}:${lower[n]}\n`).join(''), signedHeaders, EMPTY_SHA256].join('\n');
  const scope = `${day}/${input.region}/s3/aws4_request`;
  const toSign = ['AWS4-HMAC-SHA256', when, scope, createHash('sha256').update(canonical, 'utf8').digest('hex')].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${input.credentials.secretAccessKey}`, day), input.region), 's3'), 'aws4_request');
  const signature = createHmac('sha256', key).update(toSign, 'utf8').digest('hex');
  delete headers.host; // fetch sets Host itself, to the same value
  headers.authorization = `AWS4-HMAC-SHA256 Credential=${input.credentials.accessKeyId}/${scope},SignedHeaders=${signedHeaders},Signature=${signature}`;
  return headers;
}
