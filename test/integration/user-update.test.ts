/**
 * A display-name change reaches every device that shows the user (members of their
 * conversations, their contacts, their own other devices) as a `user` frame, and nobody else.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { User } from '@parley/protocol';
import { startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';
import { Recorder, eventually, newDevice, newUser, openToAll } from '../helpers/sdk.js';

let server: ServerHandle;

beforeAll(async () => {
  server = await startServer();
});
afterAll(async () => {
  await server.stop();
  server.cleanup();
});

describe('user frame', () => {
  it('tells group members, contacts and my other devices of my new name', async () => {
    const ana = await newUser(server.url);
    const carol = await newUser(server.url);
    const dave = await newUser(server.url);
    const stranger = await newUser(server.url);
    await openToAll(carol, stranger, dave); // strangers to whoever adds them
    await ana.http.createGroup({ name: 'g', members: [carol.username, stranger.username] });
    await stranger.http.createGroup({ name: 'elsewhere', members: [dave.username] });
    await dave.http.requestContact({ username: ana.username });
    const anaPhone = await newDevice(server.url, ana.username);

    const heard = new Map<string, User[]>();
    const listen = async (name: string, token: string) => {
      const r = await new Recorder(server.url, token).start();
      heard.set(name, []);
      r.client.on('user', (u) => heard.get(name)?.push(u));
      return r;
    };
    const rs = [
      await listen('carol', carol.session.token),
      await listen('dave', dave.session.token),
      await listen('anaPhone', anaPhone.session.token),
      await listen('stranger', stranger.session.token),
    ];
    const outsider = await newUser(server.url);
    rs.push(await listen('outsider', outsider.session.token));

    const updated = await ana.http.updateMe({ displayName: 'Ana G.' });
    expect(updated.displayName).toBe('Ana G.');
    const want = { id: ana.id, username: ana.username, displayName: 'Ana G.' };
    await eventually(
      () => ['carol', 'dave', 'anaPhone', 'stranger'].every((n) => heard.get(n)?.length === 1),
      () => JSON.stringify([...heard]),
    );
    for (const n of ['carol', 'dave', 'anaPhone', 'stranger']) expect(heard.get(n)).toEqual([want]);
    // Someone with no relation to Ana hears nothing (the others heard theirs after it was sent).
    expect(heard.get('outsider')).toEqual([]);
    for (const r of rs) r.stop();
  });
});
