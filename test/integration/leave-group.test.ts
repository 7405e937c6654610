/**
 * Leaving or being removed from a group keeps it in the former member's list, read-only:
 * history up to that moment and nothing after, on every device and after a fresh login,
 * until they delete it from their list or are added again.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Conversation } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, makeContacts, newDevice, newUser } from '../helpers/sdk.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

describe('leaving a group', () => {
  it('keeps the group read-only up to the leave, then deletes it from the list on every device', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const carol = await newUser(server.url);
    await makeContacts(ana, bob);
    await makeContacts(ana, carol);
    const g = await ana.http.createGroup({ name: 'Weekend trip', members: [bob.username, carol.username] });
    await ana.http.send(g.id, { clientId: 'a1', text: 'before 1' });
    await carol.http.send(g.id, { clientId: 'c1', text: 'before 2' });

    // Carol's second device hears of it live.
    const carolPhone = await newDevice(server.url, carol.username);
    const phone = await new Recorder(server.url, carolPhone.session.token).start();
    const seen = new Map<string, Conversation>();
    phone.client.on('conversation', (c) => seen.set(c.id, c));
    const removed: string[] = [];
    phone.client.on('conversation_removed', (e) => removed.push(e.conversationId));

    await carol.http.leave(g.id);
    await ana.http.send(g.id, { clientId: 'a2', text: 'after' });
    await ana.http.rename(g.id, 'Renamed later');

    await eventually(() => seen.get(g.id)?.left !== undefined, 'a conversation frame with left');
    expect(seen.get(g.id)).toMatchObject({ id: g.id, lastSeq: 2, left: { seq: 2, by: null } });

    // A fresh login sees the same: listed, with the name and last message of that moment.
    const fresh = await newDevice(server.url, carol.username);
    const [listed] = (await fresh.http.conversations()).conversations;
    expect(listed).toMatchObject({
      id: g.id,
      name: 'Weekend trip',
      lastSeq: 2,
      unread: 0,
      lastMessage: { text: 'before 2' },
      left: { seq: 2, by: null },
    });
    expect(await fresh.http.conversation(g.id)).toMatchObject({ left: { seq: 2 } });

    // History up to the leave, never the message after it, whichever way it is paged.
    const texts = async (q: { before?: number; after?: number; limit?: number }) =>
      (await fresh.http.history(g.id, q)).messages.map((m) => m.text);
    expect(await texts({})).toEqual(['before 1', 'before 2']);
    expect(await texts({ after: 0 })).toEqual(['before 1', 'before 2']);
    expect(await texts({ after: 2 })).toEqual([]);
    expect(await texts({ before: 10 })).toEqual(['before 1', 'before 2']);
    expect(await fresh.http.history(g.id, { after: 0, limit: 1 })).toMatchObject({ hasMore: true });
    expect(await fresh.http.history(g.id, { after: 1, limit: 1 })).toMatchObject({ hasMore: false });
    // The live relay stopped too.
    expect(phone.inConversation(g.id).map((m) => m.text)).not.toContain('after');

    // Read-only: sending is refused like in a conversation one is not in; members too.
    await expect(fresh.http.send(g.id, { clientId: 'c2', text: 'still here?' })).rejects.toMatchObject({
      code: 'not_found',
    });
    await expect(fresh.http.members(g.id)).rejects.toMatchObject({ code: 'not_found' });
    // Members can't delete a chat they are in.
    await expect(ana.http.deleteConversation(g.id)).rejects.toMatchObject({ code: 'still_member' });

    await fresh.http.deleteConversation(g.id);
    await eventually(() => removed.includes(g.id), 'conversation_removed on the other device');
    expect((await carol.http.conversations()).conversations).toEqual([]);
    await expect(carol.http.history(g.id, {})).rejects.toMatchObject({ code: 'not_found' });
    await expect(carol.http.deleteConversation(g.id)).rejects.toMatchObject({ code: 'not_found' });
    phone.stop();
  });

  it('says who removed a member; being added again makes it a normal chat', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const carol = await newUser(server.url);
    await makeContacts(ana, bob);
    await makeContacts(ana, carol);
    const g = await ana.http.createGroup({ name: 'Team', members: [bob.username, carol.username] });
    await bob.http.send(g.id, { clientId: 'b1', text: 'hello' });

    await ana.http.removeMember(g.id, bob.id);
    await ana.http.send(g.id, { clientId: 'a1', text: 'behind your back' });
    const [listed] = (await bob.http.conversations()).conversations;
    expect(listed).toMatchObject({
      id: g.id,
      left: { seq: 1, by: { id: ana.id, username: ana.username } },
    });
    expect((await bob.http.history(g.id, {})).messages.map((m) => m.text)).toEqual(['hello']);

    await ana.http.addMembers(g.id, [bob.username]);
    const again = await bob.http.conversation(g.id);
    expect(again.left).toBeUndefined();
    expect(again).toMatchObject({ lastSeq: 2, name: 'Team' });
    await bob.http.send(g.id, { clientId: 'b2', text: 'back' });
    expect((await bob.http.conversations()).conversations.map((c) => [c.id, c.left])).toEqual([
      [g.id, undefined],
    ]);
  });
});
