/**
 * Search over real sockets: messages sent over the WebSocket and HTTP are found at once by
 * `GET /v1/search` (the SDK's `search`), with highlights, filters and pages, and only by the
 * people who could read them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, makeContacts, newUser } from '../helpers/sdk.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

describe('search', () => {
  it('finds sent messages with highlights, filters and pages, for members only', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const eve = await newUser(server.url);
    await makeContacts(ana, bob);
    const direct = await ana.http.direct({ userId: bob.id });
    const ws = await new Recorder(server.url, ana.session.token).start();
    try {
      await ws.client.send(direct.id, 'Rendez-vous au Café de Flore');
      await ws.client.send(direct.id, '明天去北京');
      await bob.http.send(direct.id, { clientId: 'b1', text: 'café? oui, le café!' });

      const found = await bob.http.search({ q: 'cafe' });
      expect(found.hits.map((h) => h.message.text).sort()).toEqual([
        'Rendez-vous au Café de Flore',
        'café? oui, le café!',
      ]);
      const mine = found.hits.find((h) => h.message.senderId === bob.id);
      expect(mine).toMatchObject({
        conversationId: direct.id,
        seq: 3,
        highlights: [
          [0, 4],
          [14, 18],
        ],
      });
      expect((await bob.http.search({ q: '北京' })).hits.map((h) => [h.seq, h.highlights])).toEqual([
        [2, [[3, 5]]],
      ]);
      expect((await bob.http.search({ q: 'cafe', sender: ana.id })).hits.map((h) => h.seq)).toEqual([1]);
      expect((await bob.http.search({ q: 'cafe', conversation: direct.id })).hits).toHaveLength(2);

      // Pages: one hit each, then no cursor.
      const first = await bob.http.search({ q: 'cafe', limit: 1 });
      expect(first.hits).toHaveLength(1);
      expect(first.cursor).not.toBeNull();
      const second = await bob.http.search({ q: 'cafe', limit: 1, cursor: first.cursor ?? '' });
      expect(second.hits).toHaveLength(1);
      expect(second.cursor).toBeNull();
      expect(second.hits[0]?.seq).not.toBe(first.hits[0]?.seq);

      // Someone else's conversation: nothing, as for one that does not exist.
      expect(await eve.http.search({ q: 'cafe' })).toEqual({ hits: [], cursor: null });
      expect(await eve.http.search({ q: 'cafe', conversation: direct.id })).toEqual({
        hits: [],
        cursor: null,
      });
      expect(await eve.http.search({ q: 'cafe', conversation: 'c_none' })).toEqual({
        hits: [],
        cursor: null,
      });
    } finally {
      ws.stop();
    }
  });

  it('refuses a bad query or cursor with invalid_field', async () => {
    const ana = await newUser(server.url);
    for (const q of [
      { q: '' },
      { q: '   ' },
      { q: 'x'.repeat(257) },
      { q: 'a', cursor: 'zz' },
      { q: 'a', limit: 51 },
    ]) {
      const err = await ana.http.search(q).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err, JSON.stringify(q).slice(0, 40)).toBeInstanceOf(ParleyError);
      expect((err as ParleyError).code).toBe('invalid_field');
    }
  });
});
