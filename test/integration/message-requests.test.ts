/**
 * Consent around being contacted: a first 1:1 message from someone who is not my contact
 * arrives as a message request (accept, reply, delete or block it); only contacts may add me
 * to groups by default; new conversations per user and hour are capped; a declined contact
 * request cannot be repeated at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ParleyError } from '@parley/client';
import type { Conversation, Presence, User } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, makeContacts, newUser, openToAll } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';

let server: ServerHandle;

const QUOTA = 4;
const COOLDOWN_MS = 600_000;

beforeAll(async () => {
  server = await startServer({
    args: [
      '--max-new-conversations-per-hour',
      String(QUOTA),
      '--contact-request-cooldown-ms',
      String(COOLDOWN_MS),
    ],
  });
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

async function listed(u: TestUser, id: string): Promise<Conversation | undefined> {
  return (await u.http.conversations()).conversations.find((c) => c.id === id);
}

async function failure(p: Promise<unknown>): Promise<ParleyError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  if (!(err instanceof ParleyError)) throw new Error(`expected a ParleyError, got ${String(err)}`);
  return err;
}

/** Show presence to anyone a user shares a plain chat with, so only the request can hide it. */
async function showPresence(...users: TestUser[]): Promise<void> {
  for (const u of users) await u.http.setPrivacy({ online: 'everyone', lastSeen: 'everyone' });
}

/** Bob (a stranger) opens a 1:1 with Ana and writes "hi": Ana's request. */
async function requestFrom(bob: TestUser, ana: TestUser, text = 'hi'): Promise<string> {
  const conv = await bob.http.direct({ userId: ana.id });
  await bob.http.send(conv.id, { clientId: `c-${Math.random()}`, text });
  return conv.id;
}

describe('message requests', () => {
  it('arrives as a request: apart, with no presence either way, unseen until its first message', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await showPresence(ana, bob);
    const anaRec = await new Recorder(server.url, ana.session.token).start();
    const conv = await bob.http.direct({ userId: ana.id });
    expect(conv.request).toBeUndefined();
    // Opened but empty: nothing shows on Ana's side.
    expect(await listed(ana, conv.id)).toBeUndefined();
    await expect(ana.http.conversation(conv.id)).rejects.toMatchObject({ code: 'not_found' });

    await bob.http.send(conv.id, { clientId: 'b-1', text: 'hello, stranger' });
    await eventually(() => anaRec.inConversation(conv.id).length === 1, 'the message reaches ana');
    const entry = await listed(ana, conv.id);
    expect(entry?.request).toBe(true);
    expect(entry?.lastMessage?.text).toBe('hello, stranger');
    expect((await ana.http.conversation(conv.id)).request).toBe(true);
    // The sender's view is a normal chat.
    expect((await listed(bob, conv.id))?.request).toBeUndefined();
    // No presence across a request, either way.
    expect((await ana.http.presence([bob.id])).presence).toEqual([]);
    expect((await bob.http.presence([ana.id])).presence).toEqual([]);
    // The sender may keep writing.
    await bob.http.send(conv.id, { clientId: 'b-2', text: 'are you there?' });
    await eventually(() => anaRec.inConversation(conv.id).length === 2, 'a second message');
    anaRec.stop();
  });

  it('accepting makes it a normal chat on both sides, with presence', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await showPresence(ana, bob);
    const id = await requestFrom(bob, ana);
    const bobRec = await new Recorder(server.url, bob.session.token).start();
    const seen: Presence[] = [];
    bobRec.client.on('presence', (p) => {
      if (p.userId === ana.id) seen.push(p);
    });
    const anaRec = await new Recorder(server.url, ana.session.token).start();
    const convFrames: Conversation[] = [];
    anaRec.client.on('conversation', (c) => convFrames.push(c));

    const accepted = await ana.http.acceptRequest(id);
    expect(accepted.request).toBeUndefined();
    expect((await listed(ana, id))?.request).toBeUndefined();
    await eventually(() => convFrames.some((c) => c.id === id && c.request === undefined), 'ana hears it');
    await eventually(() => seen.some((p) => p.online), 'bob sees ana online');
    expect((await ana.http.presence([bob.id])).presence.map((p) => p.userId)).toEqual([bob.id]);
    // Accepting twice is harmless; someone else's conversation is not found.
    expect((await ana.http.acceptRequest(id)).request).toBeUndefined();
    const eve = await newUser(server.url);
    await expect(eve.http.acceptRequest(id)).rejects.toMatchObject({ code: 'not_found' });
    anaRec.stop();
    bobRec.stop();
  });

  it('replying accepts it', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await showPresence(ana, bob);
    const id = await requestFrom(bob, ana);
    expect((await listed(ana, id))?.request).toBe(true);
    expect((await ana.http.presence([bob.id])).presence).toEqual([]);
    await ana.http.send(id, { clientId: 'a-1', text: 'hi bob' });
    await eventually(async () => (await listed(ana, id))?.request === undefined, 'the reply accepts');
    expect((await ana.http.presence([bob.id])).presence.map((p) => p.userId)).toEqual([bob.id]);
  });

  it('deleting takes it out of my list until the next message', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const id = await requestFrom(bob, ana);
    const anaRec = await new Recorder(server.url, ana.session.token).start();
    const removed: string[] = [];
    anaRec.client.on('conversation_removed', (r) => removed.push(r.conversationId));

    await ana.http.deleteConversation(id);
    expect(await listed(ana, id)).toBeUndefined();
    await eventually(() => removed.includes(id), 'conversation_removed');
    // Bob's side is unchanged and he can still write: the request comes back.
    expect((await listed(bob, id))?.lastMessage?.text).toBe('hi');
    await bob.http.send(id, { clientId: 'b-again', text: 'please answer' });
    await eventually(async () => (await listed(ana, id))?.request === true, 'the request is back');
    expect((await listed(ana, id))?.lastMessage?.text).toBe('please answer');
    anaRec.stop();
  });

  it('blocking the sender removes the request and stops their messages', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const id = await requestFrom(bob, ana);
    const anaRec = await new Recorder(server.url, ana.session.token).start();
    const removed: string[] = [];
    anaRec.client.on('conversation_removed', (r) => removed.push(r.conversationId));

    await ana.http.block({ userId: bob.id });
    await eventually(() => removed.includes(id), 'conversation_removed');
    expect(await listed(ana, id)).toBeUndefined();
    expect((await ana.http.contacts()).blocked.map((u) => u.id)).toEqual([bob.id]);
    await expect(bob.http.send(id, { clientId: 'b-x', text: 'hey' })).rejects.toMatchObject({
      code: 'blocked',
    });
    anaRec.stop();
  });

  it("contacts' messages are normal chats at once", async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await makeContacts(bob, ana);
    const anaRec = await new Recorder(server.url, ana.session.token).start();
    const convFrames: Conversation[] = [];
    anaRec.client.on('conversation', (c) => convFrames.push(c));
    const conv = await bob.http.direct({ userId: ana.id });
    await eventually(() => convFrames.some((c) => c.id === conv.id), 'ana hears of the new chat');
    expect(convFrames.find((c) => c.id === conv.id)?.request).toBeUndefined();
    expect((await listed(ana, conv.id))?.request).toBeUndefined();
    anaRec.stop();
  });

  it("with directMessages 'everyone' a stranger's chat is no request", async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await ana.http.setPrivacy({ directMessages: 'everyone' });
    const id = await requestFrom(bob, ana);
    expect((await listed(ana, id))?.request).toBeUndefined();
  });

  it("with directMessages 'contacts' a stranger is answered as for an unknown user", async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    await ana.http.setPrivacy({ directMessages: 'contacts' });
    const refused = await fetch(`${server.url}/v1/conversations/direct`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob.session.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: ana.id }),
    });
    const unknown = await fetch(`${server.url}/v1/conversations/direct`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bob.session.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u_nobody_at_all' }),
    });
    expect(refused.status).toBe(404);
    expect(await refused.json()).toEqual(await unknown.json());
    expect((await ana.http.conversations()).conversations).toEqual([]);
    // A contact may.
    await makeContacts(ana, bob);
    const conv = await bob.http.direct({ userId: ana.id });
    expect((await listed(ana, conv.id))?.request).toBeUndefined();
  });
});

describe('group adds', () => {
  it('only contacts may add me to a group unless I allow everyone', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const carol = await newUser(server.url);
    const dave = await newUser(server.url);
    await openToAll(carol);
    await makeContacts(bob, dave);

    const err = await failure(
      bob.http.createGroup({ name: 'Strangers', members: [ana.username, carol.username, dave.username] }),
    );
    expect(err.code).toBe('not_allowed');
    expect(err.status).toBe(403);
    expect(err.message).toContain(ana.username);
    expect(err.message).not.toContain(carol.username);
    expect(err.message).not.toContain(dave.username);
    // Nothing was created.
    expect((await carol.http.conversations()).conversations).toEqual([]);

    // Carol allows everyone and Dave is Bob's contact: fine.
    const group = await bob.http.createGroup({ name: 'Friends', members: [carol.username, dave.username] });
    expect(group.memberCount).toBe(3);
    const addErr = await failure(bob.http.addMembers(group.id, [ana.username]));
    expect(addErr.code).toBe('not_allowed');
    expect(addErr.message).toContain(ana.username);
    expect((await bob.http.members(group.id)).members).toHaveLength(3);

    await makeContacts(ana, bob);
    expect((await bob.http.addMembers(group.id, [ana.username])).members).toHaveLength(4);
  });
});

describe('quotas', () => {
  it(`caps new conversations at ${QUOTA} per user per hour`, async () => {
    const spammer = await newUser(server.url);
    const targets: TestUser[] = [];
    for (let i = 0; i < QUOTA + 1; i++) targets.push(await newUser(server.url));
    await openToAll(...targets);
    const first = await spammer.http.direct({ userId: (targets[0] as TestUser).id });
    for (let i = 1; i < QUOTA - 1; i++) await spammer.http.direct({ userId: (targets[i] as TestUser).id });
    await spammer.http.createGroup({ name: 'one group', members: [(targets[1] as TestUser).username] });

    const res = await fetch(`${server.url}/v1/conversations/direct`, {
      method: 'POST',
      headers: { authorization: `Bearer ${spammer.session.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ userId: (targets[QUOTA] as TestUser).id }),
    });
    expect(res.status).toBe(429);
    expect((await res.json()) as unknown).toMatchObject({ code: 'rate_limited', retryable: true });
    const retryAfter = Number(res.headers.get('retry-after'));
    // The first of the hour's conversations is seconds old: a slot frees in about an hour.
    expect(retryAfter).toBeGreaterThan(3500);
    expect(retryAfter).toBeLessThanOrEqual(3600);
    console.log(`conversation quota: ${QUOTA} created, the next refused, retry-after ${retryAfter} s`);
    const groupErr = await failure(
      spammer.http.createGroup({ name: 'too many', members: [(targets[2] as TestUser).username] }),
    );
    expect(groupErr.code).toBe('rate_limited');
    expect(groupErr.retryAfter).toBeGreaterThan(0);
    // Opening an existing chat creates nothing and still works.
    expect((await spammer.http.direct({ userId: (targets[0] as TestUser).id })).id).toBe(first.id);
    // Others are not affected.
    const other = await newUser(server.url);
    await other.http.direct({ userId: (targets[QUOTA] as TestUser).id });
  });

  it('a declined contact request cannot be repeated during the cool-down', async () => {
    const ana = await newUser(server.url);
    const bob = await newUser(server.url);
    const anaRec = await new Recorder(server.url, ana.session.token).start();
    const incoming: { user: User }[] = [];
    anaRec.client.on('contact', (f) => {
      if (f.state === 'incoming') incoming.push(f);
    });

    expect((await bob.http.requestContact({ userId: ana.id })).state).toBe('outgoing');
    await eventually(() => incoming.length === 1, 'the first request arrives');
    await ana.http.declineContact(bob.id);
    for (let i = 0; i < 3; i++) {
      const err = await failure(bob.http.requestContact({ userId: ana.id }));
      expect(err.code).toBe('rate_limited');
      expect(err.retryAfter).toBeGreaterThan(COOLDOWN_MS / 1000 - 60);
      expect(err.retryAfter).toBeLessThanOrEqual(COOLDOWN_MS / 1000);
    }
    expect((await ana.http.contacts()).incoming).toEqual([]);
    // Ana may still ask Bob herself.
    expect((await ana.http.requestContact({ userId: bob.id })).state).toBe('outgoing');

    // Dropping a request (DELETE) is declining it too.
    const carol = await newUser(server.url);
    await carol.http.requestContact({ userId: ana.id });
    await ana.http.removeContact(carol.id);
    expect((await failure(carol.http.requestContact({ userId: ana.id }))).code).toBe('rate_limited');
    await new Promise((r) => setTimeout(r, 300));
    console.log(`incoming contact frames after 1 request, 1 decline and 3 more asks: ${incoming.length}`);
    expect(incoming).toHaveLength(2);
    expect(incoming.map((f) => f.user.id)).toEqual([bob.id, carol.id]);
    anaRec.stop();
  });
});
