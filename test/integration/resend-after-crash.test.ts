/**
 * A chat server that dies between committing a send and publishing it leaves a stored
 * message nobody was told of, and no ack. The sender's resend then finds it stored
 * (`duplicate`) and makes the members' connections recheck the store: a partner who stays
 * connected the whole time gets it, once, with nothing sent after it to reveal the gap.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresStore } from '@parley/server';
import { clusterUnavailable, startCluster } from '../helpers/cluster.js';
import type { Cluster } from '../helpers/cluster.js';
import { Recorder, eventually, newUser } from '../helpers/sdk.js';

const skip = await clusterUnavailable();

describe.skipIf(skip !== null)('resend of a message stored by a server that died', () => {
  let cluster: Cluster;
  let store: PostgresStore;
  beforeAll(async () => {
    cluster = await startCluster({ chats: 2 });
    store = await PostgresStore.open({ url: cluster.db.split(',') });
  }, 60_000);
  afterAll(async () => {
    await store?.close();
    await cluster?.stop();
  });

  it('reaches a partner who stayed connected, once', async () => {
    const [a, b] = await Promise.all([newUser(cluster.api.url), newUser(cluster.api.url)]);
    const conv = await a.http.direct({ username: b.username });
    const partner = await new Recorder(cluster.api.url, b.session.token).start();
    const sender = await new Recorder(cluster.api.url, a.session.token).start();
    await sender.client.send(conv.id, 'before', { clientId: 'c-before' });
    await eventually(() => partner.inConversation(conv.id).length === 1, 'the first message', 10_000);

    // What the dead server did: committed, then died before its fan-out and its ack.
    const [stored] = await store.messages.appendMessages([
      {
        id: '01M00000000000000000000001',
        conversationId: conv.id,
        senderId: a.id,
        clientId: 'c-lost',
        text: 'stored, never published',
        createdAt: Date.now(),
      },
    ]);
    expect(stored).toMatchObject({ ok: true, duplicate: false });

    const ack = await sender.client.send(conv.id, 'stored, never published', { clientId: 'c-lost' });
    expect(ack.duplicate).toBe(true);
    await eventually(
      () => partner.inConversation(conv.id).some((m) => m.clientId === 'c-lost'),
      'the resent message at the partner',
      10_000,
    );
    expect(partner.inConversation(conv.id).map((m) => m.text)).toEqual(['before', 'stored, never published']);
    partner.stop();
    sender.stop();
  });
});
