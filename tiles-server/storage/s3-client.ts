/**
 * The read-only S3 calls the slide reader needs, against AWS S3 or any
 * S3-compatible store (MinIO, Ceph, s3rver): HEAD an object, GET a byte
 * range of it (pinned to the ETag seen at open, so a replaced object is
 * noticed, not mixed), and list keys under a prefix (ListObjectsV2, page by
 * page). Failures become the slide codes: STORAGE_UNAVAILABLE for a store
 * that does not answer or refuses, SLIDE_CHANGED for an object replaced
 * under us, SLIDE_NOT_FOUND for one that is gone. Object keys are never
 * logged or put in messages: they are slide file names.
 */
import { WsiError } from '../../src/core/errors.js';
import { asArray } from '../formats/xml.js';
import { parseSafeXml, type XmlNode } from '../slides/safe-xml.js';
import { encodeKeyPath, signRequest, uriEncode, type S3Credentials } from './s3-signer.js';

export interface S3Location {
  /** Where requests go: https://s3.<region>.amazonaws.com, or a MinIO/s3rver endpoint. */
  endpoint: URL;
  bucket: string;
  /** The key prefix the slides sit under ('' or ending in '/'). */
  prefix: string;
  region: string;
  /** Path-style (endpoint/bucket/key, MinIO and s3rver) or virtual-hosted (bucket.endpoint/key, AWS). */
  pathStyle: boolean;
  credentials: S3Credentials;
  /** Per request; a range read that takes longer is an outage, not a slow tile. */
  timeoutMs: number;
}

export interface S3Object {
  key: string;
  size: number;
  etag: string;
  lastModified: string;
}

/** The store named by SLIDES_URL (s3://bucket/prefix) and the S3_* / AWS_* variables. */
export function s3LocationFromEnv(slidesUrl: string, env: NodeJS.ProcessEnv): S3Location {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(slidesUrl);
  if (!m) throw new Error(`SLIDES_URL must look like s3://bucket or s3://bucket/prefix/ (got something else)`);
  const region = env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'] ?? 'us-east-1';
  const endpointText = env['S3_ENDPOINT'] ?? `https://s3.${region}.amazonaws.com`;
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new Error('S3_ENDPOINT is not a URL');
  }
  if (endpoint.protocol !== 'https:' && endpoint.protocol !== 'http:') throw new Error('S3_ENDPOINT must be http(s)');
  const accessKeyId = env['AWS_ACCESS_KEY_ID'];
  const secretAccessKey = env['AWS_SECRET_ACCESS_KEY'];
  if (!accessKeyId || !secretAccessKey) throw new Error('SLIDES_URL is an S3 bucket: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY');
  let prefix = m[2] ?? '';
  if (prefix && !prefix.endsWith('/')) prefix += '/';
  const pathStyleEnv = env['S3_PATH_STYLE'];
  return {
    endpoint,
    bucket: m[1] as string,
    prefix,
    region,
    pathStyle: pathStyleEnv === undefined ? env['S3_ENDPOINT'] !== undefined : pathStyleEnv === '1' || pathStyleEnv === 'true',
    credentials: { accessKeyId, secretAccessKey, ...(env['AWS_SESSION_TOKEN'] ? { sessionToken: env['AWS_SESSION_TOKEN'] } : {}) },
    timeoutMs: Number(env['S3_TIMEOUT_MS'] ?? 15_000),
  };
}

function unavailable(what: string, status?: number): WsiError {
  return new WsiError('STORAGE_UNAVAILABLE', `slide storage ${what}${status ? ` (HTTP ${status})` : ''}`);
}

export class S3Client {
  private readonly host: string;
  private readonly base: string;
  private readonly bucketPath: string;

  constructor(readonly location: S3Location) {
    const e = location.endpoint;
    this.host = location.pathStyle ? e.host : `${location.bucket}.${e.host}`;
    this.base = `${e.protocol}//${this.host}`;
    const root = e.pathname.replace(/\/$/, '');
    this.bucketPath = location.pathStyle ? `${root}/${uriEncode(location.bucket)}` : root;
  }

  private async send(path: string, method: 'GET' | 'HEAD', query: Record<string, string>, headers: Record<string, string>, signal?: AbortSignal): Promise<Response> {
    const signed = signRequest({ method, host: this.host, path, query, headers, region: this.location.region, credentials: this.location.credentials });
    const qs = Object.entries(query)
      .map(([k, v]) => `${uriEncode(k)}=${uriEncode(v)}`)
      .join('&');
    const timeout = AbortSignal.timeout(this.location.timeoutMs);
    try {
      return await fetch(`${this.base}${path}${qs ? `?${qs}` : ''}`, { method, headers: signed, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
    } catch {
      if (signal?.aborted) throw signal.reason;
      throw unavailable(timeout.aborted ? `did not answer within ${this.location.timeoutMs} ms` : 'could not be reached');
    }
  }

  /** Size and ETag of an object (key relative to the bucket). */
  async head(key: string, signal?: AbortSignal): Promise<S3Object> {
    const res = await this.send(encodeKeyPath(this.bucketPath, key), 'HEAD', {}, {}, signal);
    if (res.status === 404) throw new WsiError('SLIDE_NOT_FOUND', 'the slide is no longer in storage');
    if (!res.ok) throw unavailable('refused to describe a slide', res.status);
    const size = Number(res.headers.get('content-length'));
    if (!Number.isSafeInteger(size) || size < 0) throw unavailable('gave no valid size for a slide');
    return { key, size, etag: res.headers.get('etag') ?? '', lastModified: res.headers.get('last-modified') ?? '' };
  }

  /** Bytes [start, end) of the object, refused when it is no longer the version with `etag`. */
  async getRange(key: string, start: number, end: number, etag: string, signal?: AbortSignal): Promise<Buffer> {
    const headers: Record<string, string> = { range: `bytes=${start}-${end - 1}` };
    if (etag) headers['if-match'] = etag;
    const res = await this.send(encodeKeyPath(this.bucketPath, key), 'GET', {}, headers, signal);
    if (res.status === 412) throw new WsiError('SLIDE_CHANGED', 'the slide was replaced in storage while it was open');
    if (res.status === 404) throw new WsiError('SLIDE_NOT_FOUND', 'the slide is no longer in storage');
    if (res.status !== 206 && res.status !== 200) throw unavailable('refused a read', res.status);
    // some stores ignore If-Match (s3rver does): the ETag of the answer says which version it is
    const got = res.headers.get('etag');
    if (etag && got && got !== etag) {
      await res.arrayBuffer().catch(() => undefined);
      throw new WsiError('SLIDE_CHANGED', 'the slide was replaced in storage while it was open');
    }
    const body = Buffer.from(await res.arrayBuffer());
    // a 200 is the whole object (a store that ignores Range): cut the range out of it
    const bytes = res.status === 200 ? body.subarray(start, end) : body;
    if (bytes.length !== end - start) throw unavailable(`returned ${bytes.length} bytes for a read of ${end - start}`);
    return bytes;
  }

  /**
   * Throws STORAGE_UNAVAILABLE unless the bucket answers a signed listing.
   * The listing is of a hidden prefix that holds nothing (and is never listed
   * as slides), so it costs one small answer however large the bucket is.
   */
  async probe(signal?: AbortSignal): Promise<void> {
    const res = await this.send(this.bucketPath || '/', 'GET', { 'list-type': '2', prefix: `${this.location.prefix}.wsi-probe/` }, {}, signal);
    await res.arrayBuffer().catch(() => undefined);
    if (!res.ok) throw unavailable(res.status === 404 ? 'has no such bucket' : 'refused to list the slides', res.status);
  }

  /** Every object under the prefix, a page (up to 1,000 keys) at a time. */
  async *list(signal?: AbortSignal): AsyncGenerator<S3Object[]> {
    let token: string | undefined;
    do {
      const query: Record<string, string> = { 'list-type': '2', prefix: this.location.prefix };
      if (token) query['continuation-token'] = token;
      const res = await this.send(this.bucketPath || '/', 'GET', query, {}, signal);
      if (!res.ok) throw unavailable('refused to list the slides', res.status);
      const root = parseSafeXml(await res.text(), { code: 'STORAGE_UNAVAILABLE', what: 'the storage listing', arrays: ['Contents'] });
      const result = child(root, 'ListBucketResult');
      const page: S3Object[] = [];
      for (const c of asArray(result?.['Contents'])) {
        const key = text(c, 'Key');
        const size = Number(text(c, 'Size'));
        if (!key || !Number.isSafeInteger(size)) continue;
        page.push({ key, size, etag: text(c, 'ETag'), lastModified: text(c, 'LastModified') });
      }
      yield page;
      token = text(result, 'IsTruncated') === 'true' ? text(result, 'NextContinuationToken') || undefined : undefined;
    } while (token);
  }
}

function child(node: XmlNode | undefined, name: string): XmlNode | undefined {
  const v = (node as Record<string, unknown> | undefined)?.[name];
  return (Array.isArray(v) ? v[0] : v) as XmlNode | undefined;
}

function text(node: XmlNode | undefined, name: string): string {
  const v = (node as Record<string, unknown> | undefined)?.[name];
  const one = Array.isArray(v) ? v[0] : v;
  if (one === undefined || one === null) return '';
  if (typeof one === 'object') return String((one as Record<string, unknown>)['#text'] ?? '');
  return String(one);
}
