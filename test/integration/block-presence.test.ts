/**
 * Blocking someone who is online stops showing them online on the blocker's own devices at
 * once (a presence frame), not only the other way round.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Presence } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, newUser, openToAll } from '../helpers/sdk.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

describe('blocking and presence', () => {
  it("shows the blocked user offline on the blocker's devices", async () => {
    const ana = await newUser(server.url);
    const carol = await newUser(server.url);
    // A plain 1:1 (no message request): its members see each other's presence.
    await openToAll(ana);
    await carol.http.direct({ username: ana.username });
    await carol.http.setPrivacy({ online: 'everyone' }); // a 1:1 partner sees it
    const anaRec = await new Recorder(server.url, ana.session.token).start();
    const seen: Presence[] = [];
    anaRec.client.on('presence', (p) => {
      if (p.userId === carol.id) seen.push(p);
    });
    const carolRec = await new Recorder(server.url, carol.session.token).start();
    await eventually(() => seen.at(-1)?.online === true, 'carol online');

    await ana.http.block({ username: carol.username });
    await eventually(() => seen.at(-1)?.online === false, 'carol offline after the block');
    expect(seen.at(-1)).toEqual({ userId: carol.id, online: false, lastActiveAt: null });
    anaRec.stop();
    carolRec.stop();
  });
});
