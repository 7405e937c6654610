/**
 * Attachments over real sockets: tus uploads over fetch, processing on the last PATCH (a
 * photo loses its GPS position and gains a thumbnail), sends over HTTP and the WebSocket,
 * live and caught-up delivery, downloads with ranges and validators for members only, the
 * quota, deletes for everyone and the sweep of uploads never attached.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Attachment, Message, MessageFrame } from '@parley/protocol';
import { ROOT, startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { RawSocket } from '../helpers/raw.js';
import { Recorder, eventually, makeContacts, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';

const QUOTA = 2_000_000;
let server: ServerHandle;

beforeAll(async () => {
  server = await startServer({
    args: ['--upload-quota-bytes', String(QUOTA)],
  });
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

const b64 = (s: string) => Buffer.from(s).toString('base64');

/** Create an upload and send its bytes in two PATCHes, as a tus client would. */
async function upload(
  u: TestUser,
  bytes: Buffer,
  name: string,
  at = server,
): Promise<{ id: string; header: Attachment }> {
  const auth = { authorization: `Bearer ${u.session.token}`, 'tus-resumable': '1.0.0' };
  const created = await fetch(`${at.url}/v1/uploads`, {
    method: 'POST',
    headers: {
      ...auth,
      'upload-length': String(bytes.length),
      'upload-metadata': `filename ${b64(name)},filetype ${b64('image/jpeg')}`,
    },
  });
  expect(created.status, await created.clone().text()).toBe(201);
  const location = new URL(created.headers.get('location') ?? '', at.url).href;
  const id = location.split('/').pop() ?? '';
  const half = Math.floor(bytes.length / 2);
  let offset = 0;
  let last: Response | undefined;
  for (const part of [bytes.subarray(0, half), bytes.subarray(half)]) {
    last = await fetch(location, {
      method: 'PATCH',
      headers: {
        ...auth,
        'upload-offset': String(offset),
        'content-type': 'application/offset+octet-stream',
      },
      body: new Uint8Array(part),
    });
    expect(last.status).toBe(204);
    offset += part.length;
  }
  return { id, header: JSON.parse(last?.headers.get('parley-upload') ?? 'null') as Attachment };
}

function get(
  u: TestUser,
  path: string,
  headers: Record<string, string> = {},
  at = server,
): Promise<Response> {
  return fetch(`${at.url}${path}`, {
    headers: { authorization: `Bearer ${u.session.token}`, ...headers },
  });
}

/** A 400×300 JPEG carrying an EXIF GPS position. */
function photoWithGps(): Promise<Buffer> {
  return sharp({ create: { width: 400, height: 300, channels: 3, background: { r: 200, g: 40, b: 40 } } })
    .jpeg()
    .withMetadata({ exif: { IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' } } })
    .toBuffer();
}

describe('attachments', () => {
  it('uploads a photo, strips it, sends it with a caption, serves it to members only', async () => {
    const [ana, bob, eve] = [await newUser(server.url), await newUser(server.url), await newUser(server.url)];
    await makeContacts(ana, bob);
    await openToAll(ana, bob, eve);
    const group = await ana.http.createGroup({ name: 'trip', members: [bob.username] });
    const live = await new Recorder(server.url, bob.session.token).start();
    try {
      const jpeg = await photoWithGps();
      expect((await sharp(jpeg).metadata()).exif).toBeDefined();
      const { id, header } = await upload(ana, jpeg, '../../etc/holiday\u202e.jpg');
      expect(header).toMatchObject({
        id,
        kind: 'image',
        name: 'holiday.jpg',
        mime: 'image/jpeg',
        width: 400,
        height: 300,
        thumbnail: true,
      });
      expect(header.placeholder).toMatch(/^[A-Za-z0-9+/=]+$/);
      // The uploader only.
      expect(await (await get(ana, `/v1/uploads/${id}`)).json()).toEqual(header);
      expect((await get(bob, `/v1/uploads/${id}`)).status).toBe(404);

      const ack = await ana.http.send(group.id, {
        clientId: 'p1',
        text: 'look',
        attachments: [{ uploadId: id }],
      });
      expect(ack.duplicate).toBe(false);
      // A resend is the same message; another message cannot take the upload.
      expect(
        (await ana.http.send(group.id, { clientId: 'p1', text: 'look', attachments: [{ uploadId: id }] }))
          .duplicate,
      ).toBe(true);
      await expect(
        ana.http.send(group.id, { clientId: 'p2', text: 'again', attachments: [{ uploadId: id }] }),
      ).rejects.toMatchObject({ code: 'invalid_field' });

      await eventually(
        () => live.inConversation(group.id).some((m) => m.attachments?.[0]?.id === id),
        'live message',
      );
      const caught = await bob.http.history(group.id);
      expect(caught.messages.find((m) => m.seq === ack.seq)).toMatchObject({
        text: 'look',
        attachments: [header],
      });

      // The stored original: a JPEG without EXIF.
      const whole = await get(bob, `/v1/files/${id}`);
      expect(whole.status).toBe(200);
      expect(whole.headers.get('content-type')).toBe('image/jpeg');
      expect(whole.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''holiday.jpg");
      expect(whole.headers.get('cache-control')).toBe('private, max-age=31536000, immutable');
      const original = Buffer.from(await whole.arrayBuffer());
      expect(original.length).toBe(header.size);
      expect((await sharp(original).metadata()).exif).toBeUndefined();
      const etag = whole.headers.get('etag') ?? '';
      expect((await get(bob, `/v1/files/${id}`, { 'if-none-match': etag })).status).toBe(304);
      const part = await get(bob, `/v1/files/${id}`, { range: 'bytes=10-19' });
      expect(part.status).toBe(206);
      expect(part.headers.get('content-range')).toBe(`bytes 10-19/${header.size}`);
      expect(Buffer.from(await part.arrayBuffer())).toEqual(original.subarray(10, 20));
      const past = await get(bob, `/v1/files/${id}`, { range: `bytes=${header.size}-` });
      expect(past.status).toBe(416);
      expect(((await past.json()) as { code: string }).code).toBe('range_not_satisfiable');
      const thumb = await get(bob, `/v1/files/${id}/thumbnail`);
      expect(thumb.headers.get('content-type')).toBe('image/webp');
      expect((await sharp(Buffer.from(await thumb.arrayBuffer())).metadata()).width).toBe(320);

      // Not a member: as if there were no file.
      expect((await get(eve, `/v1/files/${id}`)).status).toBe(404);
      expect((await fetch(`${server.url}/v1/files/${id}`)).status).toBe(401);
      // Search finds the file name.
      expect((await bob.http.search({ q: 'holiday' })).hits.map((h) => h.seq)).toEqual([ack.seq]);

      // Removed after it: they keep what they saw; a later member never had it.
      await ana.http.removeMember(group.id, bob.id);
      expect((await get(bob, `/v1/files/${id}`)).status).toBe(200);
      await ana.http.addMembers(group.id, [eve.username]);
      expect((await get(eve, `/v1/files/${id}`)).status).toBe(404);

      // Deleted for everyone: the bytes go.
      await ana.http.act(group.id, { clientId: 'd1', action: { kind: 'delete', target: ack.seq } });
      await eventually(async () => (await get(ana, `/v1/files/${id}`)).status === 404, 'file removed');
    } finally {
      live.stop();
    }
  });

  it('sends over the WebSocket, serves other files as downloads, enforces the quota, sweeps', async () => {
    const [ana, bob] = [await newUser(server.url), await newUser(server.url)];
    await makeContacts(ana, bob);
    const direct = await ana.http.direct({ userId: bob.id });
    const html = Buffer.from('<html><script>alert(1)</script></html>');
    const { id, header } = await upload(ana, html, 'x.jpg');
    expect(header).toMatchObject({ kind: 'file', mime: 'application/octet-stream', name: 'x.jpg' });

    const ws = await RawSocket.open(server.url, ana.session.token);
    const bobWs = await RawSocket.open(server.url, bob.session.token);
    try {
      await ws.until((f) => f.some((x) => x.type === 'ready'));
      await bobWs.until((f) => f.some((x) => x.type === 'ready'));
      bobWs.send({ type: 'sync', since: 0 });
      await bobWs.until((f) => f.some((x) => x.type === 'synced'));
      ws.send({
        type: 'send',
        conversationId: direct.id,
        clientId: 'w1',
        text: '',
        attachments: [{ uploadId: id }],
      });
      await ws.until((f) => f.some((x) => x.type === 'ack'));
      const frames = await bobWs.until((f) => f.some((x) => x.type === 'message'));
      const m = (frames.find((x) => x.type === 'message') as MessageFrame).message as Message;
      expect(m).toMatchObject({ text: '', attachments: [header] });
    } finally {
      ws.close();
      bobWs.close();
    }
    const file = await get(bob, `/v1/files/${id}`);
    expect(file.headers.get('content-type')).toBe('application/octet-stream');
    expect(file.headers.get('content-disposition')).toBe("attachment; filename*=UTF-8''x.jpg");
    expect(file.headers.get('content-security-policy')).toBe("sandbox; default-src 'none'");
    expect(file.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await get(bob, `/v1/files/${id}/thumbnail`)).status).toBe(404);

    // Past the quota: refused before a byte is stored.
    const big = await fetch(`${server.url}/v1/uploads`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${ana.session.token}`,
        'tus-resumable': '1.0.0',
        'upload-length': String(QUOTA),
      },
    });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { code: string }).code).toBe('quota_exceeded');

    // An upload in progress counts at its declared length until it is terminated.
    const create = (length: number) =>
      fetch(`${server.url}/v1/uploads`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${ana.session.token}`,
          'tus-resumable': '1.0.0',
          'upload-length': String(length),
        },
      });
    const half = await create(QUOTA / 2);
    expect(half.status).toBe(201);
    expect((await create(QUOTA / 2)).status).toBe(413);
    const terminated = await fetch(new URL(half.headers.get('location') ?? '', server.url), {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ana.session.token}`, 'tus-resumable': '1.0.0' },
    });
    expect(terminated.status).toBe(204);
    await eventually(async () => (await create(QUOTA / 2)).status === 201, 'quota freed by the termination');
  });

  it('times voice notes from their bytes, or from the sender when the bytes have no duration', async () => {
    const [ana, bob] = [await newUser(server.url), await newUser(server.url)];
    await makeContacts(ana, bob);
    const direct = await ana.http.direct({ userId: bob.id });
    const fixture = (name: string) => readFileSync(join(ROOT, 'test/fixtures/media', name));
    const timed = await upload(ana, fixture('voice.ogg'), 'voice.ogg');
    expect(timed.header).toMatchObject({ kind: 'audio', mime: 'audio/ogg' });
    expect(timed.header.durationMs).toBeGreaterThan(1400);
    const streamed = await upload(ana, fixture('voice-recorder.webm'), 'voice.webm');
    expect(streamed.header).toMatchObject({ kind: 'audio', mime: 'audio/webm' });
    expect(streamed.header.durationMs).toBeUndefined();
    const waveform = Buffer.from([0, 128, 255, 64]).toString('base64');
    await ana.http.send(direct.id, {
      clientId: 'v1',
      text: '',
      attachments: [
        { uploadId: timed.id, durationMs: 999_999 },
        // A claim past 3 hours is cut to 3 hours.
        { uploadId: streamed.id, durationMs: 99 * 3600 * 1000, waveform },
      ],
    });
    const [m] = (await bob.http.history(direct.id)).messages;
    expect(m?.attachments?.map((a) => [a.durationMs, a.waveform])).toEqual([
      [timed.header.durationMs, undefined],
      [3 * 3600 * 1000, waveform],
    ]);
  });

  it('sweeps uploads never attached once the grace period is over', async () => {
    const quick = await startServer({ args: ['--upload-grace-ms', '200', '--upload-sweep-ms', '50'] });
    try {
      const ana = await newUser(quick.url);
      const stale = await upload(ana, Buffer.from('bytes nobody sends'), 'notes.txt', quick);
      expect(stale.header).toMatchObject({ kind: 'file', name: 'notes.txt' });
      await eventually(
        async () => (await get(ana, `/v1/uploads/${stale.id}`, {}, quick)).status === 404,
        'stale upload swept',
      );
      expect((await get(ana, `/v1/files/${stale.id}`, {}, quick)).status).toBe(404);

      // A file no record names (a database restored from an older backup): swept as well.
      const orphan = join(quick.dataDir, 'blobs', 'u', 'A'.repeat(22));
      writeFileSync(orphan, 'left over');
      await eventually(() => !existsSync(orphan), 'file without a record swept');
    } finally {
      await quick.stop();
      quick.cleanup();
    }
  });
});
