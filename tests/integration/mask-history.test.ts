/**
 * The compact mask history through the server (issue 10, finding 11):
 * a tile painted version after version — past two keyframe intervals, with
 * a refused stale write, a restore of an old version and two tiles in one
 * batch — then the server is SIGKILLed right after its last acknowledged
 * write (TEST-CATALOGUE DATA-11). After a restart on the same data, every
 * acknowledged version comes back byte for byte, one by one
 * (GET …/tiles/{tx}/{ty}/versions/{v}) and in the history (?data=1), and
 * the current tile is exactly the bytes its writer sent.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rng } from '../../scripts/bench/workloads.js';
import { b64, edit, inflate, parsePack, postTiles, readPack, zlib } from '../helpers/masks.js';
import { FIXTURES } from '../helpers/paths.js';
import { getJson, startTestServer, waitExit, type TestServer } from '../helpers/server.js';

/** The annotator: the signed-in admin's user id (known once the server is up). */
let USER = '';
let server: TestServer;
let slide = '';

beforeAll(async () => {
  server = await startTestServer(FIXTURES, {});
  USER = server.admin?.id ?? '';
  const { body } = await getJson<{ slides: Array<{ id: string; name: string }> }>(`${server.url}/api/slides`);
  slide = body.slides.find((s) => s.name === 'slides/aperio-jpeg-240-x4.svs')?.id ?? '';
});

afterAll(async () => {
  await server?.stop();
});

describe('mask history across a crash', () => {
  it('gives back every acknowledged version byte for byte after a SIGKILL and restart', async () => {
    const r = rng(21);
    const versions = new Map<string, Uint8Array[]>([
      ['0,0', []],
      ['1,1', []],
    ]);
    const sent = new Map<string, Uint8Array>();
    const post = async (ops: Array<{ key: string; ifMatch: number; px: Uint8Array }>): Promise<number> => {
      const wire = ops.map((o) => {
        const data = zlib(o.px);
        sent.set(`${o.key}@${o.ifMatch + 1}`, data);
        const [tx, ty] = o.key.split(',').map(Number) as [number, number];
        return { tx, ty, ifMatch: o.ifMatch, data: b64(data) };
      });
      return (await postTiles(server.url, slide, USER, { ops: wire })).status;
    };
    for (let i = 0; i < 95; i++) {
      const key = i % 5 === 4 ? '1,1' : '0,0';
      const list = versions.get(key) as Uint8Array[];
      const last = list[list.length - 1] ?? null;
      if (i === 30) {
        // a stale write is refused and leaves nothing behind
        expect(await post([{ key, ifMatch: list.length - 1, px: edit(last, r) }])).toBe(412);
        continue;
      }
      if (i === 50) {
        // restore an old version as the newest
        const old = list[3] as Uint8Array;
        expect(await post([{ key, ifMatch: list.length, px: old }])).toBe(200);
        list.push(old);
        continue;
      }
      if (i === 60) {
        const other = versions.get('1,1') as Uint8Array[];
        const a = edit(last, r);
        const b = edit(other[other.length - 1] ?? null, r);
        expect(await post([{ key: '0,0', ifMatch: list.length, px: a }, { key: '1,1', ifMatch: other.length, px: b }])).toBe(200);
        list.push(a);
        other.push(b);
        continue;
      }
      const px = edit(last, r);
      expect(await post([{ key, ifMatch: list.length, px }])).toBe(200);
      list.push(px);
    }
    expect((versions.get('0,0') as Uint8Array[]).length).toBeGreaterThan(64);

    // killed right after the last acknowledged write
    server.proc.kill('SIGKILL');
    await waitExit(server.proc);
    const db = new Database(join(server.dataDir, 'wsi.db'));
    expect((db.pragma('integrity_check') as Array<{ integrity_check: string }>)[0]?.integrity_check).toBe('ok');
    const kinds = db.prepare(`SELECT encoding, count(*) AS n FROM mask_history GROUP BY encoding ORDER BY encoding`).all() as Array<{ encoding: string; n: number }>;
    db.close();
    expect(kinds.find((k) => k.encoding === 'xor-runs')?.n).toBeGreaterThan(50);
    const again = await startTestServer(FIXTURES, { DATA_DIR: server.dataDir });
    try {
      for (const [key, list] of versions) {
        const [tx, ty] = key.split(',').map(Number) as [number, number];
        const base = `${again.url}/api/slides/${slide}/masks/${USER}/tiles/${tx}/${ty}`;
        for (let v = 1; v <= list.length; v++) {
          const res = await fetch(`${base}/versions/${v}`);
          expect(res.status, `${key} v${v}`).toBe(200);
          const [t] = parsePack(Buffer.from(await res.arrayBuffer()));
          expect([t?.tx, t?.ty, t?.version]).toEqual([tx, ty, v]);
          expect(Buffer.from(inflate(t?.data as Buffer)).equals(Buffer.from(list[v - 1] as Uint8Array)), `${key} v${v}`).toBe(true);
        }
        const missing = await getJson<{ code: string }>(`${base}/versions/${list.length + 1}`);
        expect([missing.status, missing.body.code]).toEqual([404, 'NOT_FOUND']);
        expect((await getJson(`${base}/versions/x`)).status).toBe(400);
        const h = await getJson<{ versions: Array<{ version: number; data: string }> }>(`${base}/history?data=1`);
        expect(h.body.versions.map((x) => x.version)).toEqual(list.map((_, i) => i + 1));
        h.body.versions.forEach((x, i) => expect(Buffer.from(inflate(Buffer.from(x.data, 'base64'))).equals(Buffer.from(list[i] as Uint8Array)), `${key} history v${i + 1}`).toBe(true));
        // the current tile is exactly what its writer sent
        const pack = await readPack(again.url, slide, USER, `${tx * 512},${ty * 512},${tx * 512 + 1},${ty * 512 + 1}`);
        expect(pack.tiles[0]?.version).toBe(list.length);
        expect(Buffer.from(pack.tiles[0]?.data as Buffer).equals(Buffer.from(sent.get(`${key}@${list.length}`) as Uint8Array))).toBe(true);
      }
    } finally {
      await again.stop();
    }
  });
});
