/**
 * Presence only with consent: by default a user's online state and last seen reach their
 * accepted contacts only, pushed or fetched; `everyone` widens it to anyone sharing a
 * conversation, `nobody` hides it; others get the last seen in whole minutes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Presence } from '@parley/client';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, newUser } from '../helpers/sdk.js';
import type { TestUser } from '../helpers/sdk.js';

let server: ServerHandle;
const recorders: Recorder[] = [];

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  for (const r of recorders) r.stop();
  await server.stop();
  server.cleanup();
});

async function online(u: TestUser): Promise<Recorder> {
  const r = await new Recorder(server.url, u.session.token).start();
  recorders.push(r);
  return r;
}

/** Every presence frame about `userId` that `r` receives from now on. */
function frames(r: Recorder, userId: string): Presence[] {
  const seen: Presence[] = [];
  r.client.on('presence', (p) => {
    if (p.userId === userId) seen.push(p);
  });
  return seen;
}

async function makeContacts(a: TestUser, b: TestUser): Promise<void> {
  await a.http.requestContact({ userId: b.id });
  await b.http.acceptContact(a.id);
}

const fetched = async (viewer: TestUser, userId: string) => (await viewer.http.presence([userId])).presence;
/** Frames of one change go out together: once one viewer has theirs, another's would be close behind. */
const settle = () => new Promise((res) => setTimeout(res, 300));

describe('presence privacy', () => {
  it('shows a stranger who opens a 1:1 chat nothing, and a contact everything', async () => {
    const ana = await newUser(server.url);
    const contact = await newUser(server.url);
    const stranger = await newUser(server.url);
    await makeContacts(ana, contact);
    await stranger.http.direct({ userId: ana.id });
    const [rc, rs] = [await online(contact), await online(stranger)];
    const [byContact, byStranger] = [frames(rc, ana.id), frames(rs, ana.id)];
    await online(ana);
    await eventually(() => byContact.some((p) => p.online), 'the contact sees ana online');
    await settle();
    expect(byStranger).toEqual([]);
    expect(await fetched(stranger, ana.id)).toEqual([]);
    expect(await fetched(contact, ana.id)).toMatchObject([{ userId: ana.id, online: true }]);
    const list = await contact.http.contacts();
    expect(list.contacts.find((c) => c.user.id === ana.id)?.presence.online).toBe(true);
  });

  it('hides everything with nobody, at once, and shows it again when widened', async () => {
    const ana = await newUser(server.url);
    const contact = await newUser(server.url);
    await makeContacts(ana, contact);
    const rc = await online(contact);
    const seen = frames(rc, ana.id);
    await online(ana);
    await eventually(() => seen.at(-1)?.online === true, 'online');
    expect(await ana.http.setPrivacy({ online: 'nobody', lastSeen: 'nobody' })).toMatchObject({
      online: 'nobody',
      lastSeen: 'nobody',
    });
    await eventually(() => seen.at(-1)?.online === false, 'shown offline once hidden');
    expect(seen.at(-1)).toEqual({ userId: ana.id, online: false, lastActiveAt: null });
    expect(await fetched(contact, ana.id)).toEqual([]);
    // Hiding mine does not hide theirs from me.
    expect(await fetched(ana, contact.id)).toMatchObject([{ userId: contact.id, online: true }]);
    await ana.http.setPrivacy({ online: 'contacts', lastSeen: 'contacts' });
    await eventually(() => seen.at(-1)?.online === true, 'online again once shown');
    // Online hidden, last seen shown: a contact gets no online, only the last seen.
    await ana.http.setPrivacy({ online: 'nobody' });
    await eventually(() => seen.at(-1)?.online === false, 'offline once online is hidden');
    const [p] = await fetched(contact, ana.id);
    expect(p).toMatchObject({ userId: ana.id, online: false, lastActiveAt: expect.any(Number) });
  });

  it('rounds last seen down to the minute for others, exact for the user', async () => {
    const ana = await newUser(server.url);
    const contact = await newUser(server.url);
    await makeContacts(ana, contact);
    const ra = await online(ana);
    await eventually(async () => (await fetched(contact, ana.id))[0]?.online === true, 'online');
    ra.stop();
    await eventually(async () => (await fetched(contact, ana.id))[0]?.online === false, 'offline');
    const [mine] = await fetched(ana, ana.id);
    const [theirs] = await fetched(contact, ana.id);
    const exact = mine?.lastActiveAt ?? 0;
    console.log(`last seen: exact ${exact} (own devices), ${theirs?.lastActiveAt} (a contact)`);
    expect(exact).toBeGreaterThan(0);
    expect(theirs?.lastActiveAt).toBe(Math.floor(exact / 60_000) * 60_000);
  });

  it('shows people sharing a conversation the presence only with everyone', async () => {
    const ana = await newUser(server.url);
    const member = await newUser(server.url);
    await member.http.setPrivacy({ groupAdds: 'everyone' });
    await ana.http.createGroup({ name: 'Book club', members: [member.username] });
    await online(ana);
    await eventually(async () => (await fetched(ana, ana.id))[0]?.online === true, 'ana online');
    expect(await fetched(member, ana.id)).toEqual([]);
    await ana.http.setPrivacy({ online: 'everyone' });
    expect(await fetched(member, ana.id)).toEqual([{ userId: ana.id, online: true, lastActiveAt: null }]);
    await ana.http.setPrivacy({ lastSeen: 'everyone' });
    const [p] = await fetched(member, ana.id);
    expect((p?.lastActiveAt ?? 1) % 60_000).toBe(0);
  });

  it('stops showing a former contact the presence when the contact ends', async () => {
    const ana = await newUser(server.url);
    const contact = await newUser(server.url);
    await makeContacts(ana, contact);
    const rc = await online(contact);
    const seen = frames(rc, ana.id);
    await online(ana);
    await eventually(() => seen.at(-1)?.online === true, 'online');
    await ana.http.removeContact(contact.id);
    await eventually(() => seen.at(-1)?.online === false, 'shown offline after the removal');
    expect(seen.at(-1)).toEqual({ userId: ana.id, online: false, lastActiveAt: null });
    expect(await fetched(contact, ana.id)).toEqual([]);
  });
});
