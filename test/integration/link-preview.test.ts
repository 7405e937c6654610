/**
 * Link previews end to end: the sender's app asks `GET /v1/link-preview` for a page served
 * here (the server runs with the test-only switch that lets previews reach this machine), a
 * send with `preview: true` carries it to the recipient and into history, `preview: false`
 * does not, and a server started with `--link-previews false` answers 404.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, makeContacts, newUser } from '../helpers/sdk.js';

const HOSTILE = '<img src=x onerror=alert(1)> & "Page"';
let pages: Server;
let pagesUrl: string;
let server: ServerHandle;

beforeAll(async () => {
  pages = createServer((req, res) => {
    if (req.url === '/page') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(
        `<html><head><title>ignored</title><meta property="og:title" content="${HOSTILE.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;')}">` +
          '<meta property="og:description" content="A page about things">' +
          '<meta property="og:site_name" content="Local Site">' +
          '<meta property="og:image" content="https://images.example/x.png"></head><body>hi</body></html>',
      );
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('no');
    }
  });
  pages.listen(0, '127.0.0.1');
  await once(pages, 'listening');
  pagesUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}`;
  server = await startServer({ env: { PARLEY_TEST_PREVIEW_ALLOW_PRIVATE: '1' } });
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
  pages.close();
});

describe('link previews', () => {
  it('answers a preview without its image, and none for a page without one', async () => {
    const ana = await newUser(server.url);
    expect(await ana.http.linkPreview(`${pagesUrl}/page`)).toEqual({
      url: `${pagesUrl}/page`,
      title: HOSTILE,
      description: 'A page about things',
      siteName: 'Local Site',
    });
    expect(await ana.http.linkPreview(`${pagesUrl}/missing`)).toBeNull();
    expect(await ana.http.linkPreview('ftp://example.com/')).toBeNull();
    await expect(ana.http.linkPreview(`https://example.com/${'a'.repeat(2100)}`)).rejects.toMatchObject({
      code: 'invalid_field',
    });
  });

  it('sends the preview with the message when asked, to the recipient and into history', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await makeContacts(ana, bob);
    const direct = await ana.http.direct({ userId: bob.id });
    const url = `${pagesUrl}/page`;
    expect(await ana.http.linkPreview(url)).not.toBeNull();
    const bobWs = await new Recorder(server.url, bob.session.token).start();
    const anaWs = await new Recorder(server.url, ana.session.token).start();
    try {
      await anaWs.client.send(direct.id, `look ${url} !`, { preview: true });
      await anaWs.client.send(direct.id, `again ${url}`, { preview: false });
      await ana.http.send(direct.id, { clientId: 'h1', text: `over http ${url}`, preview: true });
      await ana.http.send(direct.id, { clientId: 'h2', text: 'no link here', preview: true });
      await eventually(() => bobWs.messages.length >= 4, 'bob receives four messages');
      const expected = { url, title: HOSTILE, description: 'A page about things', siteName: 'Local Site' };
      expect(bobWs.messages.map((m) => m.preview ?? null)).toEqual([expected, null, expected, null]);
      const history = await bob.http.history(direct.id);
      expect(history.messages.map((m) => m.preview ?? null)).toEqual([expected, null, expected, null]);

      // An edit drops it (the URL may have changed).
      const first = history.messages[0];
      if (!first) throw new Error('no first message');
      await anaWs.client.edit(direct.id, first.seq, 'changed my mind');
      await eventually(
        async () => (await bob.http.history(direct.id)).messages[0]?.text === 'changed my mind',
        'the edit is stored',
      );
      expect((await bob.http.history(direct.id)).messages[0]?.preview).toBeUndefined();
    } finally {
      bobWs.stop();
      anaWs.stop();
    }
  });

  it('allows 30 asks per user per minute, then rate_limited', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    for (let i = 0; i < 30; i++) expect(await ana.http.linkPreview(`${pagesUrl}/missing`)).toBeNull();
    await expect(ana.http.linkPreview(`${pagesUrl}/page`)).rejects.toMatchObject({ code: 'rate_limited' });
    expect(await bob.http.linkPreview(`${pagesUrl}/page`)).toMatchObject({ siteName: 'Local Site' });
  });

  it('refuses a preview field that is not a boolean', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await makeContacts(ana, bob);
    const direct = await ana.http.direct({ userId: bob.id });
    const err = await ana.http
      .send(direct.id, { clientId: 'x', text: 'hi', preview: 'yes' as unknown as boolean })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe('invalid_field');
  });
});

describe('link previews turned off', () => {
  let off: ServerHandle;
  beforeAll(async () => {
    off = await startServer({
      args: ['--link-previews', 'false'],
      env: { PARLEY_TEST_PREVIEW_ALLOW_PRIVATE: '1' },
    });
  });
  afterAll(async () => {
    await off.stop();
    off.cleanup();
  });

  it('answers 404 not_found and sends no preview', async () => {
    const ana = await newUser(off.url);
    const bob = await newUser(off.url);
    await makeContacts(ana, bob);
    const url = `${pagesUrl}/page`;
    const res = await fetch(`${off.url}/v1/link-preview?url=${encodeURIComponent(url)}`, {
      headers: { authorization: `Bearer ${ana.session.token}` },
    });
    expect(res.status).toBe(404);
    expect(((await res.json()) as { code: string }).code).toBe('not_found');
    const direct = await ana.http.direct({ userId: bob.id });
    await ana.http.send(direct.id, { clientId: 'p', text: url, preview: true });
    expect((await bob.http.history(direct.id)).messages[0]?.preview).toBeUndefined();
  });
});
