/**
 * The embedded store's disk fills up: sends fail with `storage_full` (retryable), nothing acked
 * is lost, the server keeps serving, and once space is freed the SDK's pending sends go through
 * by themselves. The data dir is a small filesystem of its own (tmpfs, or a loop-mounted ext4
 * image), which needs root.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, openSync, rmSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket, api } from '../helpers/raw.js';
import { Recorder, newUser } from '../helpers/sdk.js';

const root = process.getuid?.() === 0;
if (!root) console.warn('skipped: the disk-full test mounts a small filesystem, which needs root');

const base = mkdtempSync(join(tmpdir(), 'parley-full-'));
const mountPoint = join(base, 'mnt');
let mounted = false;
let server: ServerHandle | undefined;
const clients: Recorder[] = [];

/** An 8 MiB filesystem at `mountPoint`: tmpfs, else an ext4 image on a loop device. */
function mountSmallFs(): string {
  execFileSync('mkdir', ['-p', mountPoint]);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0700', 'tmpfs', mountPoint], { stdio: 'pipe' });
    mounted = true;
    return 'tmpfs';
  } catch (tmpfsErr) {
    const image = join(base, 'fs.img');
    try {
      execFileSync('truncate', ['-s', '8M', image]);
      execFileSync('mkfs.ext4', ['-q', '-F', image], { stdio: 'pipe' });
      execFileSync('mount', ['-o', 'loop', image, mountPoint], { stdio: 'pipe' });
      mounted = true;
      return 'ext4 on a loop device';
    } catch (loopErr) {
      throw new Error(
        `cannot mount a small filesystem: tmpfs: ${String(tmpfsErr)}; loop: ${String(loopErr)}`,
      );
    }
  }
}

/** Write zeros until the filesystem refuses (ENOSPC); returns the bytes written. */
function fill(path: string): number {
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(64 * 1024);
  let bytes = 0;
  try {
    for (;;) bytes += writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return bytes;
}

afterAll(async () => {
  clients.forEach((c) => c.stop());
  await server?.kill();
  if (mounted) execFileSync('umount', ['-l', mountPoint]);
  rmSync(base, { recursive: true, force: true });
});

describe.skipIf(!root)('disk full', () => {
  it('refuses sends with storage_full while the disk is full and recovers by itself', async () => {
    const kind = mountSmallFs();
    server = await startServer({
      dataDir: join(mountPoint, 'data'),
      args: ['--send-rate-per-sec', '10000', '--send-burst', '10000'],
    });
    const [a, b] = await Promise.all([newUser(server.url), newUser(server.url)]);
    const conv = await a.http.direct({ username: b.username });
    const text = 'x'.repeat(50_000);
    const acked: string[] = [];
    let k = 0;
    /** One send over HTTP; its status and error code. */
    const send = async (clientId = `m${k++}`) => {
      const res = await api<{ code?: string }>(
        server!.url,
        'POST',
        `/v1/conversations/${conv.id}/messages`,
        { clientId, text },
        a.session.token,
      );
      if (res.status === 201) acked.push(clientId);
      return { status: res.status, code: res.body.code };
    };
    for (let i = 0; i < 20; i++) expect((await send()).status).toBe(201);

    const filler = join(mountPoint, 'filler');
    console.log(`${kind}: filled ${(fill(filler) / 1024 / 1024).toFixed(1)} MiB`);
    // Pages the WAL already holds can be reused, so a few sends may still fit.
    let refused: { status: number; code?: string } | undefined;
    while (k < 500 && refused === undefined) {
      const r = await send();
      if (r.status !== 201) refused = r;
    }
    console.log(`first refusal after ${k} sends (${acked.length} acked): ${JSON.stringify(refused)}`);
    expect(refused).toEqual({ status: 503, code: 'storage_full' });

    // Over the WebSocket: an error frame with the same code, retryable.
    const raw = await RawSocket.open(server.url, a.session.token);
    raw.send({ type: 'send', conversationId: conv.id, clientId: 'over-ws', text });
    const frames = await raw.until((f) => f.some((x) => x.type === 'error' || x.type === 'ack'));
    expect(frames.find((x) => x.type === 'error' || x.type === 'ack')).toMatchObject({
      type: 'error',
      code: 'storage_full',
      retryable: true,
      ref: 'over-ws',
    });
    raw.close();

    // Still serving: health and reads.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
    expect((await b.http.history(conv.id, { limit: 1 })).messages.length).toBe(1);

    // An SDK send made now stays in its outbox and goes through once space is freed.
    const sdk = await new Recorder(server.url, a.session.token).start();
    clients.push(sdk);
    const later = sdk.client.send(conv.id, text, { clientId: 'from-sdk' });
    await new Promise((r) => setTimeout(r, 500));
    expect(sdk.client.pending).toBe(1);
    const freedAt = Date.now();
    rmSync(filler);
    await later;
    console.log(`the SDK's pending send was acked ${Date.now() - freedAt} ms after the filler went`);
    expect((await send('after')).status).toBe(201);

    // Everything acked is there, once.
    const stored: string[] = [];
    for (let after = 0; ;) {
      const page = await b.http.history(conv.id, { after, limit: 200 });
      stored.push(...page.messages.map((m) => m.clientId));
      if (!page.hasMore || page.messages.length === 0) break;
      after = page.messages[page.messages.length - 1]!.seq;
    }
    expect(new Set(stored).size).toBe(stored.length);
    expect(stored.filter((id) => acked.includes(id)).sort()).toEqual([...acked].sort());
    expect(stored).toContain('from-sdk');
    expect(server.proc.exitCode).toBeNull();
  }, 120_000);
});
