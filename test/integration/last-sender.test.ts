/**
 * A group's entry in the conversation list names who sent its last message, so a list loaded
 * from the server (or a cache of it) shows "Carol: …" without loading the members.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { makeContacts, newUser } from '../helpers/sdk.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

describe('lastSender', () => {
  it("names a group's last sender, as named now, and never in a direct conversation", async () => {
    const ana = await newUser(server.url);
    const carol = await newUser(server.url);
    await makeContacts(ana, carol);
    const g = await ana.http.createGroup({ name: 'g', members: [carol.username] });
    expect((await ana.http.conversation(g.id)).lastSender).toBeUndefined();
    await carol.http.send(g.id, { clientId: 'c1', text: 'Burst message 40 from Carol' });
    await carol.http.updateMe({ displayName: 'Carol C.' });
    const d = await ana.http.direct({ username: carol.username });
    await carol.http.send(d.id, { clientId: 'c2', text: 'direct' });

    const { conversations } = await ana.http.conversations();
    const group = conversations.find((c) => c.id === g.id);
    expect(group?.lastSender).toEqual({ id: carol.id, username: carol.username, displayName: 'Carol C.' });
    expect(conversations.find((c) => c.id === d.id)?.lastSender).toBeUndefined();
    expect((await ana.http.conversation(g.id)).lastSender?.id).toBe(carol.id);
  });
});
