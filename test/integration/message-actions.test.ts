/**
 * Message actions end to end, over real sockets: two devices of one user and a partner in a
 * group. Every action arrives once and in order, live and after a reconnect through catch-up;
 * private events reach only their author's devices; history, mentions, pins and saved lists
 * answer with the folded state (an edit's mentions replacing the original's), and a delete for
 * everyone leaves the text nowhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyEvent } from '@parley/client';
import type { Message } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';
import { uname } from '../helpers/raw.js';

let server: ServerHandle;
const recorders: Recorder[] = [];
async function rec(token: string, since: string | null = null): Promise<Recorder> {
  const r = await new Recorder(server.url, token, { since }).start();
  recorders.push(r);
  return r;
}

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const r of recorders) r.stop();
  await server.stop();
  server.cleanup();
});

const events = (ms: Message[]) => ms.filter((m) => m.kind !== 'text').map((m) => `${m.kind}:${m.target}`);

function fold(ms: Message[]): Message[] {
  let out: Message[] = [];
  for (const m of ms) out = applyEvent(out, m);
  return out;
}

describe('message actions end to end', () => {
  it('delivers each action once and in order, live and after catch-up', async () => {
    const alice = await newUser(server.url, uname('ann'));
    const bob = await newUser(server.url, uname('bob'));
    await openToAll(alice, bob);
    const alice2 = await newDevice(server.url, alice.username, 'second');
    const a1 = await rec(alice.session.token);
    const a2 = await rec(alice2.session.token);
    const b = await rec(bob.session.token);
    const g = await alice.http.createGroup({ name: 'Actions', members: [bob.username] });
    const m1 = await a1.client.send(g.id, `hello @${bob.username}`);
    const m2 = await b.client.send(g.id, 'second');
    const m3 = await a1.client.send(g.id, 'to be deleted');
    await eventually(() => a2.inConversation(g.id).length === 3, 'a2 has the messages');
    // The second device goes away, keeping where its feed stands.
    const since = a2.client.cursor;
    a2.stop();

    const acts = [
      () => a1.client.edit(g.id, m1.seq, `hello @${bob.username}, edited`),
      () => b.client.react(g.id, m1.seq, '🎉'),
      () => a1.client.react(g.id, m2.seq, '👍'),
      () => a1.client.unreact(g.id, m2.seq, '👍'),
      () => a1.client.pin(g.id, m2.seq),
      () => a1.client.save(g.id, m1.seq),
      () => a1.client.deleteForEveryone(g.id, m3.seq),
      () => a1.client.deleteForMe(g.id, m3.seq),
    ];
    for (const act of acts) await act();
    const all = [
      `edit:${m1.seq}`,
      `react:${m1.seq}`,
      `react:${m2.seq}`,
      `unreact:${m2.seq}`,
      `pin:${m2.seq}`,
      `save:${m1.seq}`,
      `delete:${m3.seq}`,
      `hide:${m3.seq}`,
    ];
    const shared = all.filter((e) => !e.startsWith('save') && !e.startsWith('hide'));
    await eventually(() => events(a1.inConversation(g.id)).length === all.length, 'a1 events');
    await eventually(() => events(b.inConversation(g.id)).length === shared.length, 'bob events');
    expect(events(a1.inConversation(g.id))).toEqual(all);
    expect(events(b.inConversation(g.id))).toEqual(shared);
    // Seqs increase: the feed order is the conversation's order.
    const seqs = a1.inConversation(g.id).map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));

    // The second device comes back: catch-up brings the same events, once, in order.
    const back = await rec(alice2.session.token, since);
    await eventually(() => events(back.inConversation(g.id)).length >= all.length, 'catch-up events');
    expect(events(back.inConversation(g.id)).slice(-all.length)).toEqual(all);
    expect(new Set(back.inConversation(g.id).map((m) => m.seq)).size).toBe(back.inConversation(g.id).length);

    // Folding the feed gives what history says.
    const historyA = (await alice.http.history(g.id)).messages;
    const folded = fold(a1.inConversation(g.id));
    expect(folded.map((m) => [m.seq, m.text, m.deleted ?? false, m.mentions])).toEqual(
      historyA.map((m) => [m.seq, m.text, m.deleted ?? false, m.mentions]),
    );
    expect(historyA.map((m) => m.seq)).toEqual([m1.seq, m2.seq]);
    const h1 = historyA.find((m) => m.seq === m1.seq);
    expect(h1?.text).toBe(`hello @${bob.username}, edited`);
    expect(h1?.reactions).toEqual([{ emoji: '🎉', count: 1, userIds: [bob.id] }]);
    expect(historyA.find((m) => m.seq === m2.seq)?.reactions).toBeUndefined();

    // Bob never hid it: he sees a tombstone, and the text is nowhere, not even in his feed.
    const historyB = (await bob.http.history(g.id)).messages;
    expect(historyB.find((m) => m.seq === m3.seq)).toMatchObject({ deleted: true, text: '' });
    const feed = await bob.http.sync({ since: 0, limit: 500 });
    expect(JSON.stringify(feed)).not.toContain('to be deleted');
    expect(JSON.stringify(historyB)).not.toContain('to be deleted');

    // Lists: mentions for Bob, pins for both, saved only for Alice.
    const mentions = await bob.http.mentions();
    expect(mentions.messages.map((m) => m.seq)).toEqual([m1.seq]);
    expect((await bob.http.pins(g.id)).messages.map((m) => m.seq)).toEqual([m2.seq]);
    expect((await alice.http.saved()).messages.map((m) => m.seq)).toEqual([m1.seq]);
    expect((await bob.http.saved()).messages).toEqual([]);
  });

  it('re-reads the mentions of an edited message: the mentions list follows the new text', async () => {
    const ann = await newUser(server.url, uname('ann'));
    const bob = await newUser(server.url, uname('bob'));
    const cy = await newUser(server.url, uname('cy'));
    await openToAll(ann, bob, cy);
    const g = await ann.http.createGroup({ name: 'Edits', members: [bob.username, cy.username] });
    const m = await ann.http.send(g.id, { clientId: 'm1', text: `lunch @${bob.username}?` });
    const listed = async (u: typeof bob) => (await u.http.mentions()).messages.map((x) => [x.seq, x.text]);
    expect(await listed(bob)).toEqual([[m.seq, `lunch @${bob.username}?`]]);
    expect(await listed(cy)).toEqual([]);

    const edit = (clientId: string, text: string) =>
      ann.http.act(g.id, { clientId, action: { kind: 'edit', target: m.seq, text } });
    await edit('e1', `lunch @${cy.username}?`);
    expect(await listed(bob)).toEqual([]);
    expect(await listed(cy)).toEqual([[m.seq, `lunch @${cy.username}?`]]);
    const [h] = (await cy.http.history(g.id)).messages;
    expect(h?.mentions).toEqual([cy.id]);

    await edit('e2', 'lunch, anyone?');
    expect(await listed(cy)).toEqual([]);
    expect((await cy.http.history(g.id)).messages[0]?.mentions).toBeUndefined();
  });
});
