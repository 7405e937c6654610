/**
 * A small world of users in every relation the authorization matrix asks about: a group with
 * its admin, a member and a removed member (the admin's contacts); a stranger; a user the admin
 * blocked; another user's device; a revoked token. Built over plain HTTP on a running server.
 */
import type { Conversation, Session } from '@parley/protocol';
import sharp from 'sharp';
import { account, api, uname } from './raw.js';

/** Upload a small PNG in one tus request (creation with upload); returns the upload id. */
async function uploadPhoto(url: string, token: string): Promise<string> {
  const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#08f' } })
    .png()
    .toBuffer();
  const res = await fetch(`${url}/v1/uploads`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'tus-resumable': '1.0.0',
      'upload-length': String(png.length),
      'upload-metadata': `filename ${Buffer.from('dot.png').toString('base64')}`,
      'content-type': 'application/offset+octet-stream',
    },
    body: new Uint8Array(png),
  });
  if (res.status !== 201) throw new Error(`upload: ${res.status} ${await res.text()}`);
  return (res.headers.get('location') ?? '').split('/').pop() ?? '';
}

/** Who makes a request in a cell of the matrix. */
export const SUBJECTS = [
  'member',
  'admin',
  'nonMember',
  'removed',
  'blocked',
  'otherDevice',
  'revoked',
  'noToken',
] as const;
export type Subject = (typeof SUBJECTS)[number];

export interface World {
  url: string;
  admin: Session;
  member: Session;
  /** Was in the group and was removed by the admin after message 2. */
  removed: Session;
  /** In nothing the others share. */
  nonMember: Session;
  /** Had a direct conversation with the admin; the admin then blocked them. */
  blocked: Session;
  /** A device of another user: the subject `otherDevice`, naming the member's device ids. */
  stranger: Session;
  /** Never a subject: added to the group by the add-members rows. */
  extra: Session;
  /** A logged-out device of the member. */
  revokedToken: string;
  /** A second device of the member (the target of device rows). */
  memberDevice2: Session;
  /** The group "Matrix": admin (creator), member; removed was in it for messages 1 and 2. */
  group: Conversation;
  /** Seq of the last group message the removed member may read. */
  removedSeq: number;
  /** Seq of the last group message. */
  lastSeq: number;
  /** The admin's direct conversation with the member. */
  direct: Conversation;
  /** The admin's direct conversation with the blocked user (blocked after one message). */
  blockedDirect: Conversation;
  /** The member's push subscription id, or '' when the world was built without one. */
  memberPush: string;
  /** A photo the admin uploaded and sent with group message 1 (seen by member and removed). */
  upload: string;
  /** A message request from the stranger to the member, once `openRequest` made it. */
  request?: Conversation;
}

/** The stranger (not the member's contact) opens a direct conversation with the member and writes. */
export async function openRequest(w: World): Promise<Conversation> {
  const conv = must(
    await api<Conversation>(
      w.url,
      'POST',
      '/v1/conversations/direct',
      { userId: w.member.user.id },
      w.stranger.token,
    ),
    200,
    'request',
  );
  must(
    await api(
      w.url,
      'POST',
      `/v1/conversations/${conv.id}/messages`,
      { clientId: uname('q'), text: 'hi' },
      w.stranger.token,
    ),
    201,
    'request message',
  );
  w.request = conv;
  return conv;
}

function must<T>(res: { status: number; body: T }, status: number, what: string): T {
  if (res.status !== status) throw new Error(`${what}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body;
}

/**
 * Build a fresh world. `pushEndpoint` gives the member a Web Push subscription (the server must
 * allow http endpoints; `keys` a valid P-256 key and auth secret).
 */
export async function buildWorld(
  url: string,
  push?: { endpoint: string; keys: { p256dh: string; auth: string } },
): Promise<World> {
  const [admin, member, removed, nonMember, blocked, stranger, extra] = await Promise.all([
    account(url, uname('ad')),
    account(url, uname('me')),
    account(url, uname('rm')),
    account(url, uname('nm')),
    account(url, uname('bl')),
    account(url, uname('st')),
    account(url, uname('ex')),
  ]);
  const login = (s: Session, deviceName: string) =>
    api<Session>(url, 'POST', '/v1/sessions', {
      username: s.user.username,
      password: 'password123',
      deviceName,
    }).then((r) => must(r, 201, 'login'));
  // Everyone the admin groups with is the admin's contact, so no privacy setting stands in the
  // way; the admin lets anyone message them or add them to a group (where the server has them).
  await Promise.all(
    [member, removed, blocked, extra].map(async (u) => {
      must(await api(url, 'POST', '/v1/contacts', { userId: u.user.id }, admin.token), 200, 'ask');
      must(await api(url, 'POST', `/v1/contacts/${admin.user.id}/accept`, undefined, u.token), 200, 'accept');
    }),
  );
  const privacy = await api(
    url,
    'PATCH',
    '/v1/me/privacy',
    { groupAdds: 'everyone', directMessages: 'everyone' },
    admin.token,
  );
  if (privacy.status !== 404) must(privacy, 200, 'privacy');
  const [memberDevice2, revokedDevice] = await Promise.all([login(member, 'second'), login(member, 'gone')]);
  must(await api(url, 'DELETE', '/v1/sessions/current', undefined, revokedDevice.token), 200, 'logout');

  const group = must(
    await api<Conversation>(
      url,
      'POST',
      '/v1/conversations/groups',
      { name: 'Matrix', members: [member.user.username, removed.user.username] },
      admin.token,
    ),
    201,
    'group',
  );
  const send = (s: Session, conversationId: string, text: string) =>
    api(
      url,
      'POST',
      `/v1/conversations/${conversationId}/messages`,
      { clientId: uname('m'), text },
      s.token,
    ).then((r) => must(r, 201, 'send'));
  const upload = await uploadPhoto(url, admin.token);
  must(
    await api(
      url,
      'POST',
      `/v1/conversations/${group.id}/messages`,
      { clientId: uname('m'), text: 'one', attachments: [{ uploadId: upload }] },
      admin.token,
    ),
    201,
    'send with a photo',
  );
  await send(admin, group.id, 'two');
  must(
    await api(
      url,
      'DELETE',
      `/v1/conversations/${group.id}/members/${removed.user.id}`,
      undefined,
      admin.token,
    ),
    200,
    'remove',
  );
  await send(admin, group.id, 'three, after the removal');

  const direct = must(
    await api<Conversation>(url, 'POST', '/v1/conversations/direct', { userId: member.user.id }, admin.token),
    200,
    'direct',
  );
  await send(admin, direct.id, 'hello member');
  const blockedDirect = must(
    await api<Conversation>(
      url,
      'POST',
      '/v1/conversations/direct',
      { userId: blocked.user.id },
      admin.token,
    ),
    200,
    'direct with the blocked user',
  );
  await send(blocked, blockedDirect.id, 'hello admin');
  must(await api(url, 'POST', '/v1/blocks', { userId: blocked.user.id }, admin.token), 200, 'block');

  let memberPush = '';
  if (push) {
    const sub = must(
      await api<{ id: string }>(
        url,
        'POST',
        '/v1/push/subscriptions',
        { kind: 'webpush', ...push },
        member.token,
      ),
      201,
      'push subscription',
    );
    memberPush = sub.id;
  }
  return {
    url,
    admin,
    member,
    removed,
    nonMember,
    blocked,
    stranger,
    extra,
    revokedToken: revokedDevice.token,
    memberDevice2,
    group,
    removedSeq: 2,
    upload,
    lastSeq: 3,
    direct,
    blockedDirect,
    memberPush,
  };
}

/** The bearer token a subject sends (none for `noToken`). */
export function tokenOf(w: World, s: Subject): string | undefined {
  switch (s) {
    case 'member':
      return w.member.token;
    case 'admin':
      return w.admin.token;
    case 'nonMember':
      return w.nonMember.token;
    case 'removed':
      return w.removed.token;
    case 'blocked':
      return w.blocked.token;
    case 'otherDevice':
      return w.stranger.token;
    case 'revoked':
      return w.revokedToken;
    case 'noToken':
      return undefined;
  }
}

/** The user a subject acts as (the member's, for a revoked token of the member's device). */
export function userOf(w: World, s: Subject): Session | undefined {
  switch (s) {
    case 'member':
    case 'revoked':
      return w.member;
    case 'admin':
      return w.admin;
    case 'nonMember':
      return w.nonMember;
    case 'removed':
      return w.removed;
    case 'blocked':
      return w.blocked;
    case 'otherDevice':
      return w.stranger;
    case 'noToken':
      return undefined;
  }
}
