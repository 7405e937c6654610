/**
 * The authorization matrix: every HTTP route and every client WebSocket frame type, asked by
 * every subject (a member, the admin, a non-member, a removed member, a blocked user, another
 * user's device, a revoked token, no token), with the answer each must get: status and error
 * code, or for frames the reply frame, the error frame's code or no effect. Every cell is
 * asserted, and a conversation or device id that is not the subject's answers exactly like an
 * id that does not exist (same status, code and message).
 *
 * New routes and frames add rows to HTTP_ROWS and FRAME_ROWS. The route list is checked against
 * GET /v1/openapi.json and docs/protocol.md's route tables: a served or documented route without
 * a row fails the test.
 *
 * Expired tokens are not a subject: sessions do not expire on this server (a token lives until
 * its device logs out or is revoked, docs/protocol.md §1). The subject joins the matrix, with
 * the same answers as `revoked`, when sessions get an expiry.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClientFrameType, ErrorCode, Message, SearchHit, ServerFrame } from '@parley/protocol';
import { SUBJECTS, buildWorld, openRequest, tokenOf, userOf } from '../helpers/authz-world.js';
import type { Subject, World } from '../helpers/authz-world.js';
import { PushServiceStandIn } from '../helpers/push-service.js';
import { RawSocket, api, uname } from '../helpers/raw.js';
import { ROOT, startServer } from '../helpers/server.js';
import type { ServerHandle } from '../helpers/server.js';

// ---- expectations ----

interface Expect {
  status: number;
  /** The error code; absent for a success. */
  code?: ErrorCode;
}
const ok = (status = 200): Expect => ({ status });
const fail = (status: number, code: ErrorCode): Expect => ({ status, code });
const NOT_FOUND = fail(404, 'not_found');
const UNAUTHORIZED = fail(401, 'unauthorized');

/** The same answer for every subject (routes without authentication). */
function everyone(e: Expect): Record<Subject, Expect> {
  return Object.fromEntries(SUBJECTS.map((s) => [s, e])) as Record<Subject, Expect>;
}

/**
 * Cells of an authenticated route. `outsider` is the default of the non-member, the blocked
 * user and another user's device; `removed` defaults to `outsider`; a revoked token and no
 * token answer 401.
 */
function authed(
  c: Partial<Record<Subject, Expect>> & { all?: Expect; outsider?: Expect },
): Record<Subject, Expect> {
  const all = c.all ?? ok();
  const outsider = c.outsider ?? all;
  return {
    member: c.member ?? all,
    admin: c.admin ?? all,
    nonMember: c.nonMember ?? outsider,
    removed: c.removed ?? outsider,
    blocked: c.blocked ?? outsider,
    otherDevice: c.otherDevice ?? outsider,
    revoked: UNAUTHORIZED,
    noToken: UNAUTHORIZED,
  };
}

type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

interface Answer {
  status: number;
  body: unknown;
}

/** One route asked in one situation by every subject. */
interface HttpRow {
  method: Method;
  /** The route as docs/protocol.md and the OpenAPI document write it, e.g. `/v1/conversations/:id`. */
  route: string;
  /** Which situation, when a route has several rows. */
  what?: string;
  /** The request changes what other cells rely on: each cell gets a fresh world. */
  fresh?: boolean;
  /** Run before the request, in the cell's world. */
  prepare?: (w: World) => Promise<void>;
  /** The path asked; default: `route` with `:id` the group and `:userId` the member. */
  path?: (w: World, s: Subject) => string;
  body?: (w: World, s: Subject) => unknown;
  expect: Record<Subject, Expect>;
  /** More assertions on the answer of a cell. */
  check?: (a: Answer, w: World, s: Subject) => void;
}

let push: PushServiceStandIn;
const pushBody = () => {
  const sub = push.subscribe();
  return { kind: 'webpush', endpoint: sub.endpoint, keys: sub.keys };
};
const groupMessages = (w: World, a: Answer): Message[] =>
  ((a.body as { messages?: Message[] }).messages ?? []).filter((m) => m.conversationId === w.group.id);
const searchHits = (w: World, a: Answer): SearchHit[] =>
  ((a.body as { hits?: SearchHit[] }).hits ?? []).filter((h) => h.conversationId === w.group.id);
const conv = (suffix: string) => (w: World) => `/v1/conversations/${w.group.id}${suffix}`;

const HTTP_ROWS: HttpRow[] = [
  // ---- accounts and sessions ----
  {
    method: 'POST',
    route: '/v1/users',
    body: () => ({ username: uname('su'), password: 'password123' }),
    expect: everyone(ok(201)),
  },
  {
    method: 'POST',
    route: '/v1/sessions',
    body: (w) => ({ username: w.extra.user.username, password: 'password123' }),
    expect: everyone(ok(201)),
  },
  { method: 'DELETE', route: '/v1/sessions/current', fresh: true, expect: authed({}) },
  { method: 'GET', route: '/v1/me', expect: authed({}) },
  { method: 'PATCH', route: '/v1/me', body: () => ({ displayName: 'Renamed' }), expect: authed({}) },
  { method: 'GET', route: '/v1/me/settings', expect: authed({}) },
  { method: 'GET', route: '/v1/me/privacy', expect: authed({}) },
  { method: 'PATCH', route: '/v1/me/privacy', body: () => ({ lastSeen: 'nobody' }), expect: authed({}) },
  { method: 'PATCH', route: '/v1/me/settings', body: () => ({ pushPreview: false }), expect: authed({}) },
  {
    method: 'GET',
    route: '/v1/users/:username',
    path: (w) => `/v1/users/${w.member.user.username}`,
    expect: authed({}),
  },
  { method: 'GET', route: '/v1/devices', expect: authed({}) },
  {
    method: 'DELETE',
    route: '/v1/devices/:id',
    what: "the member's second device",
    fresh: true,
    path: (w) => `/v1/devices/${w.memberDevice2.device.id}`,
    expect: authed({ member: ok(), all: NOT_FOUND }),
  },
  // ---- conversations ----
  { method: 'GET', route: '/v1/conversations', expect: authed({}) },
  {
    method: 'POST',
    route: '/v1/conversations/direct',
    what: 'with the admin',
    body: (w) => ({ userId: w.admin.user.id }),
    expect: authed({ blocked: fail(403, 'blocked') }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/groups',
    what: 'with the admin',
    body: (w) => ({ name: 'New group', members: [w.admin.user.username] }),
    expect: authed({ all: ok(201), admin: fail(400, 'group_too_small'), blocked: fail(403, 'blocked') }),
  },
  {
    method: 'GET',
    route: '/v1/conversations/:id',
    expect: authed({ removed: ok(), outsider: NOT_FOUND }),
    check: (a, w, s) => {
      if (s === 'removed') expect(a.body).toMatchObject({ left: { seq: w.removedSeq } });
    },
  },
  {
    method: 'PATCH',
    route: '/v1/conversations/:id',
    body: () => ({ name: 'Renamed group' }),
    expect: authed({ admin: ok(), member: fail(403, 'forbidden'), outsider: NOT_FOUND }),
  },
  {
    method: 'DELETE',
    route: '/v1/conversations/:id',
    fresh: true,
    expect: authed({ all: fail(409, 'still_member'), removed: ok(), outsider: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/accept',
    what: 'the group (no request: answered unchanged)',
    expect: authed({ outsider: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/accept',
    what: "the stranger's message request to the member",
    fresh: true,
    prepare: async (w) => void (await openRequest(w)),
    path: (w) => `/v1/conversations/${w.request?.id ?? ''}/accept`,
    expect: authed({ member: ok(), otherDevice: ok(), all: NOT_FOUND }),
    check: (a, _w, s) => {
      if (s === 'member') expect((a.body as { request?: true }).request).toBeUndefined();
    },
  },
  {
    method: 'DELETE',
    route: '/v1/conversations/:id',
    what: "the stranger's message request to the member",
    fresh: true,
    prepare: async (w) => void (await openRequest(w)),
    path: (w) => `/v1/conversations/${w.request?.id ?? ''}`,
    expect: authed({ member: ok(), otherDevice: fail(409, 'still_member'), all: NOT_FOUND }),
  },
  {
    method: 'PUT',
    route: '/v1/conversations/:id/mute',
    body: () => ({ until: null }),
    expect: authed({ outsider: NOT_FOUND }),
  },
  { method: 'DELETE', route: '/v1/conversations/:id/mute', expect: authed({ outsider: NOT_FOUND }) },
  { method: 'GET', route: '/v1/conversations/:id/members', expect: authed({ outsider: NOT_FOUND }) },
  {
    method: 'POST',
    route: '/v1/conversations/:id/members',
    body: (w) => ({ usernames: [w.extra.user.username] }),
    expect: authed({ admin: ok(), member: fail(403, 'forbidden'), outsider: NOT_FOUND }),
  },
  {
    method: 'DELETE',
    route: '/v1/conversations/:id/members/:userId',
    what: 'the member (the member leaves)',
    fresh: true,
    expect: authed({ outsider: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/admins/:userId',
    what: 'the member',
    fresh: true,
    expect: authed({ admin: ok(), member: fail(403, 'forbidden'), outsider: NOT_FOUND }),
  },
  // ---- messages ----
  {
    method: 'GET',
    route: '/v1/conversations/:id/messages',
    expect: authed({ removed: ok(), outsider: NOT_FOUND }),
    // The removed member reads up to their removal, never after.
    check: (a, w, s) => {
      const seqs = groupMessages(w, a).map((m) => m.seq);
      if (s === 'removed') expect(Math.max(...seqs)).toBe(w.removedSeq);
      else expect(Math.max(...seqs)).toBeGreaterThanOrEqual(w.lastSeq);
    },
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/messages',
    what: 'in the group',
    body: () => ({ clientId: uname('c'), text: 'hello' }),
    expect: authed({ all: ok(201), outsider: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/messages',
    what: 'in the direct conversation of the admin and the user they blocked',
    path: (w) => `/v1/conversations/${w.blockedDirect.id}/messages`,
    body: () => ({ clientId: uname('c'), text: 'hello' }),
    expect: authed({
      admin: fail(403, 'blocked'),
      blocked: fail(403, 'blocked'),
      member: NOT_FOUND,
      outsider: NOT_FOUND,
    }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/actions',
    what: 'a reaction on the last group message',
    body: (w) => ({ clientId: uname('a'), action: { kind: 'react', target: w.lastSeq, emoji: '👍' } }),
    expect: authed({ all: ok(201), outsider: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/actions',
    what: "an edit of the admin's last group message",
    // Its own world: the edit takes "three" out of the search index the search rows read.
    fresh: true,
    body: (w) => ({ clientId: uname('a'), action: { kind: 'edit', target: w.lastSeq, text: 'edited' } }),
    expect: authed({ all: fail(403, 'not_sender'), admin: ok(201), outsider: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/actions',
    what: "a delete for everyone of the admin's last group message",
    fresh: true,
    body: (w) => ({ clientId: uname('a'), action: { kind: 'delete', target: w.lastSeq } }),
    expect: authed({ all: fail(403, 'not_sender'), admin: ok(201), outsider: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/actions',
    what: 'a pin in the group',
    body: (w) => ({ clientId: uname('a'), action: { kind: 'pin', target: w.lastSeq } }),
    expect: authed({ all: fail(403, 'forbidden'), admin: ok(201), outsider: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/conversations/:id/forward',
    body: (w) => ({ clientId: uname('f'), seq: w.lastSeq, to: [w.direct.id] }),
    expect: authed({ outsider: NOT_FOUND }),
  },
  { method: 'GET', route: '/v1/conversations/:id/pins', expect: authed({ outsider: NOT_FOUND }) },
  { method: 'GET', route: '/v1/mentions', expect: authed({}) },
  { method: 'GET', route: '/v1/saved', expect: authed({}) },
  {
    method: 'POST',
    route: '/v1/conversations/:id/read',
    body: () => ({ seq: 1 }),
    expect: authed({ outsider: NOT_FOUND }),
  },
  {
    method: 'GET',
    route: '/v1/conversations/:id/receipts',
    path: (w) => `${conv('/receipts')(w)}?seq=1`,
    expect: authed({ outsider: NOT_FOUND }),
  },
  {
    method: 'GET',
    route: '/v1/sync',
    expect: authed({}),
    check: (a, w, s) => {
      const seqs = groupMessages(w, a).map((m) => m.seq);
      if (s === 'removed') expect(seqs).toEqual([1, 2]);
      else if (s === 'member' || s === 'admin') expect(seqs.slice(0, 3)).toEqual([1, 2, 3]);
      else expect(seqs).toEqual([]);
    },
  },
  {
    method: 'GET',
    route: '/v1/search',
    what: 'a word of a message sent before the removal',
    path: () => '/v1/search?q=one',
    expect: authed({}),
    check: (a, w, s) => {
      const seqs = searchHits(w, a).map((h) => h.seq);
      expect(seqs).toEqual(s === 'member' || s === 'admin' || s === 'removed' ? [1] : []);
    },
  },
  {
    method: 'GET',
    route: '/v1/search',
    what: 'in the group, a word of a message sent after the removal',
    // A conversation that is not the subject's answers like one that does not exist: no hits.
    path: (w) => `/v1/search?q=three&conversation=${w.group.id}`,
    expect: authed({}),
    check: (a, w, s) => {
      expect(searchHits(w, a).map((h) => h.seq)).toEqual(s === 'member' || s === 'admin' ? [3] : []);
      if (s !== 'member' && s !== 'admin') expect(a.body).toEqual({ hits: [], cursor: null });
    },
  },
  {
    method: 'GET',
    route: '/v1/link-preview',
    what: 'a page on a private address (refused by the address guard, never fetched)',
    path: () => `/v1/link-preview?url=${encodeURIComponent('http://127.0.0.1:9/')}`,
    expect: authed({ all: NOT_FOUND }),
  },
  // ---- uploads and files ----
  {
    method: 'POST',
    route: '/v1/uploads',
    what: 'without the tus headers',
    // Past authentication, a request without the tus headers is refused.
    expect: authed({ all: fail(400, 'invalid_field') }),
  },
  {
    method: 'GET',
    route: '/v1/uploads/:id',
    what: "the admin's photo",
    path: (w) => `/v1/uploads/${w.upload}`,
    // The uploader only.
    expect: authed({ all: NOT_FOUND, admin: ok() }),
  },
  {
    method: 'GET',
    route: '/v1/files/:id',
    what: 'the photo of group message 1 (before the removal)',
    path: (w) => `/v1/files/${w.upload}`,
    expect: authed({ outsider: NOT_FOUND, removed: ok() }),
  },
  {
    method: 'GET',
    route: '/v1/files/:id/thumbnail',
    what: 'the thumbnail of the photo of group message 1',
    path: (w) => `/v1/files/${w.upload}/thumbnail`,
    expect: authed({ outsider: NOT_FOUND, removed: ok() }),
  },
  // ---- contacts, blocks, presence ----
  { method: 'GET', route: '/v1/contacts', expect: authed({}) },
  {
    method: 'POST',
    route: '/v1/contacts',
    what: 'ask the admin',
    body: (w) => ({ userId: w.admin.user.id }),
    expect: authed({ admin: fail(400, 'invalid_field') }),
    // A blocked user is not told: the request seems to go out.
    check: (a, _w, s) => {
      if (s === 'blocked') expect(a.body).toEqual({ state: 'outgoing' });
    },
  },
  {
    method: 'POST',
    route: '/v1/contacts/:userId/accept',
    what: 'a request to the member',
    fresh: true,
    prepare: askMember,
    path: (w) => `/v1/contacts/${w.extra.user.id}/accept`,
    expect: authed({ member: ok(), all: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/contacts/:userId/decline',
    what: 'a request to the member',
    fresh: true,
    prepare: askMember,
    path: (w) => `/v1/contacts/${w.extra.user.id}/decline`,
    expect: authed({ member: ok(), all: NOT_FOUND }),
  },
  {
    method: 'DELETE',
    route: '/v1/contacts/:userId',
    what: "a request to the member, from a contact of the admin's",
    fresh: true,
    prepare: askMember,
    path: (w) => `/v1/contacts/${w.extra.user.id}`,
    expect: authed({ member: ok(), admin: ok(), all: NOT_FOUND }),
  },
  {
    method: 'POST',
    route: '/v1/blocks',
    what: 'the member',
    fresh: true,
    body: (w) => ({ userId: w.member.user.id }),
    expect: authed({ member: fail(400, 'invalid_field') }),
  },
  {
    method: 'DELETE',
    route: '/v1/blocks/:userId',
    what: 'the blocked user',
    fresh: true,
    path: (w) => `/v1/blocks/${w.blocked.user.id}`,
    expect: authed({ admin: ok(), all: NOT_FOUND }),
  },
  {
    method: 'GET',
    route: '/v1/presence',
    what: 'of the member',
    path: (w) => `/v1/presence?userIds=${w.member.user.id}`,
    expect: authed({}),
    // Only who shares a conversation (or a contact) with the member sees them.
    check: (a, w, s) => {
      const seen = (a.body as { presence: { userId: string }[] }).presence.map((p) => p.userId);
      expect(seen).toEqual(s === 'member' || s === 'admin' ? [w.member.user.id] : []);
    },
  },
  { method: 'GET', route: '/v1/discovery', expect: everyone(ok()) },
  { method: 'GET', route: '/v1/openapi.json', expect: everyone(ok()) },
  // ---- push ----
  { method: 'GET', route: '/v1/push/vapid', expect: everyone(ok()) },
  { method: 'POST', route: '/v1/push/subscriptions', body: pushBody, expect: authed({ all: ok(201) }) },
  { method: 'GET', route: '/v1/push/subscriptions', expect: authed({}) },
  {
    method: 'DELETE',
    route: '/v1/push/subscriptions/:id',
    what: "the member's subscription",
    fresh: true,
    path: (w) => `/v1/push/subscriptions/${w.memberPush}`,
    expect: authed({ member: ok(), all: NOT_FOUND }),
  },
  // ---- operations ----
  { method: 'GET', route: '/healthz', expect: everyone(ok()) },
  { method: 'GET', route: '/readyz', expect: everyone(ok()) },
  { method: 'GET', route: '/metrics', expect: everyone(ok()) },
  { method: 'GET', route: '/', expect: everyone(ok()) },
];

/** The extra user (a contact of the admin's) asks the member to be a contact. */
async function askMember(w: World): Promise<void> {
  const r = await api(w.url, 'POST', '/v1/contacts', { userId: w.member.user.id }, w.extra.token);
  expect(r.body).toEqual({ state: 'outgoing' });
}

function defaultPath(row: HttpRow, w: World): string {
  return row.route.replace(':id', w.group.id).replace(':userId', w.member.user.id);
}

/** The same path with each id of the world that is not everyone's replaced by one that does not exist. */
function ghostOf(path: string, w: World): string | null {
  const ids = [
    w.group.id,
    w.direct.id,
    w.blockedDirect.id,
    w.memberDevice2.device.id,
    w.memberPush,
    w.request?.id,
    w.upload,
  ];
  let ghost = path;
  for (const id of ids) if (id) ghost = ghost.split(id).join(`${id.slice(0, 2)}nosuchthing0000`);
  return ghost === path ? null : ghost;
}

async function request(
  w: World,
  method: Method,
  path: string,
  token?: string,
  body?: unknown,
): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers['content-type'] = 'application/json';
  if (token) headers.authorization = `Bearer ${token}`;
  const res = await fetch(w.url + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Prometheus text or HTML.
  }
  return { status: res.status, body: parsed };
}

const rowName = (r: HttpRow) => `${r.method} ${r.route}${r.what ? ` (${r.what})` : ''}`;

// ---- WebSocket frames ----

/** What a frame must cause. */
type FrameExpect =
  | { reply: 'ack' | 'pong' | 'synced' }
  /** The subject's own devices get a server `read` frame. */
  | { reply: 'read' }
  | { reply: 'error'; code: ErrorCode; ref?: boolean }
  /** The other party's connection gets this frame type from the subject. */
  | { relayed: 'typing' | 'receipts' }
  /** No answer and nothing relayed (`relay: 'any'`: the other party may get a receipt). */
  | { none: true; relay?: 'any' }
  /** The upgrade itself is refused with this HTTP status. */
  | { upgrade: number };

interface FrameRow {
  type: ClientFrameType;
  what: string;
  frame: (w: World, s: Subject) => Record<string, unknown>;
  expect: Record<Subject, FrameExpect>;
  /** Run before the subject connects, in the cell's world. */
  prepare?: (w: World) => Promise<void>;
  /** More assertions on the frames the subject received. */
  check?: (frames: ServerFrame[], w: World, s: Subject) => void;
}

const REFUSED: FrameExpect = { upgrade: 401 };
const FRAME_NOT_FOUND: FrameExpect = { reply: 'error', code: 'not_found' };

function frameCells(
  c: Partial<Record<Subject, FrameExpect>> & { all: FrameExpect; outsider?: FrameExpect },
): Record<Subject, FrameExpect> {
  const outsider = c.outsider ?? c.all;
  return {
    member: c.member ?? c.all,
    admin: c.admin ?? c.all,
    nonMember: c.nonMember ?? outsider,
    removed: c.removed ?? outsider,
    blocked: c.blocked ?? outsider,
    otherDevice: c.otherDevice ?? outsider,
    revoked: REFUSED,
    noToken: REFUSED,
  };
}

/** Every client frame type must have at least one row: the compiler lists the types here. */
const FRAME_TYPES: Record<ClientFrameType, true> = {
  send: true,
  action: true,
  sync: true,
  read: true,
  ping: true,
  delivered: true,
  typing: true,
  active: true,
};

const FRAME_ROWS: FrameRow[] = [
  {
    type: 'send',
    what: 'in the group',
    frame: (w) => ({ type: 'send', conversationId: w.group.id, clientId: uname('f'), text: 'hi' }),
    expect: frameCells({ all: { reply: 'ack' }, outsider: { reply: 'error', code: 'not_found', ref: true } }),
  },
  {
    type: 'send',
    what: 'in the direct conversation of the admin and the user they blocked',
    frame: (w) => ({ type: 'send', conversationId: w.blockedDirect.id, clientId: uname('f'), text: 'hi' }),
    expect: frameCells({
      all: { reply: 'error', code: 'not_found', ref: true },
      admin: { reply: 'error', code: 'blocked', ref: true },
      blocked: { reply: 'error', code: 'blocked', ref: true },
    }),
  },
  {
    type: 'send',
    what: "in the stranger's message request to the member (a reply accepts it)",
    prepare: async (w) => void (await openRequest(w)),
    frame: (w) => ({ type: 'send', conversationId: w.request?.id, clientId: uname('f'), text: 'hi' }),
    expect: frameCells({
      all: { reply: 'error', code: 'not_found', ref: true },
      member: { reply: 'ack' },
      otherDevice: { reply: 'ack' },
    }),
  },
  {
    type: 'action',
    what: 'a reaction on the last group message',
    frame: (w) => ({
      type: 'action',
      conversationId: w.group.id,
      clientId: uname('f'),
      action: { kind: 'react', target: w.lastSeq, emoji: '🎉' },
    }),
    expect: frameCells({ all: { reply: 'ack' }, outsider: { reply: 'error', code: 'not_found', ref: true } }),
  },
  {
    type: 'action',
    what: "an edit of the admin's last group message",
    frame: (w) => ({
      type: 'action',
      conversationId: w.group.id,
      clientId: uname('f'),
      action: { kind: 'edit', target: w.lastSeq, text: 'edited' },
    }),
    expect: frameCells({
      all: { reply: 'error', code: 'not_sender', ref: true },
      admin: { reply: 'ack' },
      outsider: { reply: 'error', code: 'not_found', ref: true },
    }),
  },
  {
    type: 'sync',
    what: 'the whole feed',
    frame: () => ({ type: 'sync', since: 0 }),
    expect: frameCells({ all: { reply: 'synced' } }),
    // Catch-up carries the group's messages up to where each subject may read.
    check: (frames, w, s) => {
      const seqs = frames.flatMap((f) =>
        f.type === 'message' && f.message.conversationId === w.group.id ? [f.message.seq] : [],
      );
      if (s === 'removed') expect(seqs).toEqual([1, 2]);
      else if (s === 'member' || s === 'admin') expect(seqs).toEqual([1, 2, 3]);
      else expect(seqs).toEqual([]);
    },
  },
  {
    type: 'read',
    what: 'the last group message',
    frame: (w) => ({ type: 'read', conversationId: w.group.id, seq: w.lastSeq }),
    // The admin sent it, so their cursor is there already: nothing moves.
    expect: frameCells({ all: FRAME_NOT_FOUND, member: { reply: 'read' }, admin: { none: true } }),
  },
  {
    type: 'ping',
    what: 'with a time',
    frame: () => ({ type: 'ping', t: 42 }),
    expect: frameCells({ all: { reply: 'pong' } }),
  },
  {
    type: 'active',
    what: 'in the background',
    // About this device only: no answer and nothing relayed, whoever sends it.
    frame: () => ({ type: 'active', foreground: false }),
    expect: frameCells({ all: { none: true } }),
  },
  {
    type: 'delivered',
    what: 'the last group message',
    frame: (w) => ({ type: 'delivered', conversationId: w.group.id, seq: w.lastSeq }),
    // Delivered receipts of non-members are ignored without an answer. The admin's own message
    // is delivered to them already; its stored cursor may catch up with a receipt to the others.
    expect: frameCells({
      all: { none: true },
      member: { relayed: 'receipts' },
      admin: { none: true, relay: 'any' },
    }),
  },
  {
    type: 'typing',
    what: 'in the group',
    frame: (w) => ({ type: 'typing', conversationId: w.group.id }),
    expect: frameCells({ all: { relayed: 'typing' }, outsider: FRAME_NOT_FOUND }),
  },
  {
    type: 'typing',
    what: 'in the direct conversation of the admin and the user they blocked',
    frame: (w) => ({ type: 'typing', conversationId: w.blockedDirect.id }),
    // Dropped silently across a block.
    expect: frameCells({ all: FRAME_NOT_FOUND, admin: { none: true }, blocked: { none: true } }),
  },
];

/** Who watches for what a subject's frame relays: the other party of the conversation. */
function observerOf(w: World, s: Subject, row: FrameRow): string {
  const target = row.frame(w, s).conversationId;
  if (target === w.blockedDirect.id) return s === 'admin' ? w.blocked.token : w.admin.token;
  if (target === w.request?.id) return s === 'otherDevice' ? w.member.token : w.stranger.token;
  return s === 'admin' ? w.member.token : w.admin.token;
}

async function openSynced(url: string, token: string): Promise<RawSocket> {
  const sock = await RawSocket.open(url, token);
  sock.send({ type: 'sync', since: null });
  await sock.until((f) => f.some((x) => x.type === 'synced'));
  return sock;
}

const after = (frames: ServerFrame[], n: number) => frames.slice(n);

async function runFrameCell(row: FrameRow, w: World, s: Subject): Promise<void> {
  const want = row.expect[s];
  const token = tokenOf(w, s);
  if ('upgrade' in want) {
    await expect(RawSocket.open(w.url, token ?? '')).rejects.toThrow(String(want.upgrade));
    return;
  }
  if (!token) throw new Error(`no token for ${s}`);
  await row.prepare?.(w);
  const observer = await openSynced(w.url, observerOf(w, s, row));
  const sock = await RawSocket.open(w.url, token);
  try {
    await sock.until((f) => f.some((x) => x.type === 'ready'));
    if (row.type !== 'sync') {
      sock.send({ type: 'sync', since: null });
      await sock.until((f) => f.some((x) => x.type === 'synced'));
    }
    const mark = sock.frames.length;
    const seen = observer.frames.length;
    const frame = row.frame(w, s);
    sock.send(frame);
    const label = `${row.type} (${row.what}) by ${s}`;
    if ('reply' in want) {
      const fs = await sock.until((f) =>
        after(f, mark).some((x) => x.type === want.reply || (want.reply !== 'error' && x.type === 'error')),
      );
      const got = after(fs, mark).find((x) => x.type === want.reply || x.type === 'error');
      if (want.reply === 'error') {
        expect(got, label).toMatchObject({ type: 'error', code: want.code });
        if (want.ref) expect(got, label).toMatchObject({ ref: frame.clientId });
      } else expect(got?.type, `${label}: ${JSON.stringify(got)}`).toBe(want.reply);
      if (want.reply === 'read') expect(got).toMatchObject({ conversationId: w.group.id, seq: w.lastSeq });
    } else if ('relayed' in want) {
      const me = userOf(w, s)?.user.id;
      await observer.until((f) =>
        after(f, seen).some(
          (x) =>
            (x.type === 'typing' && want.relayed === 'typing' && x.userId === me) ||
            (x.type === 'receipts' && want.relayed === 'receipts' && x.cursors.some((c) => c.userId === me)),
        ),
      );
    } else {
      // Nothing may come of it: a ping after it is answered, and a receipt flush passes.
      sock.send({ type: 'ping', t: 7 });
      await sock.until((f) => after(f, mark).some((x) => x.type === 'pong' && x.t === 7));
      await new Promise((r) => setTimeout(r, 600));
      const answered = after(sock.frames, mark).filter(
        (x) => x.type !== 'pong' && !(want.relay === 'any' && x.type === 'receipts'),
      );
      expect(answered, label).toEqual([]);
      const me = userOf(w, s)?.user.id;
      const relayed = after(observer.frames, seen).filter(
        (x) =>
          (x.type === 'typing' && x.userId === me) ||
          (x.type === 'receipts' && want.relay !== 'any' && x.cursors.some((c) => c.userId === me)),
      );
      expect(relayed, label).toEqual([]);
    }
    row.check?.(sock.frames, w, s);
    // Whatever the subject sent, the connection stays open.
    expect(sock.closeCode, label).toBeNull();
  } finally {
    sock.close();
    observer.close();
  }
}

// ---- the run ----

let server: ServerHandle;
let shared: World;
const fresh = () => buildWorld(server.url, pushBody());

beforeAll(async () => {
  push = await PushServiceStandIn.start();
  // Parallel logins of one account are not throttled here: the matrix is about who may, not how often.
  server = await startServer({ args: ['--web-push-allow-http', 'true', '--login-free-failures', '1000'] });
  shared = await fresh();
});

afterAll(async () => {
  await server?.stop();
  server?.cleanup();
  await push?.close();
});

/** Run `fn` over `items`, `n` at a time. */
async function pool<T>(items: T[], n: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

describe('authorization matrix', () => {
  it('has a row for every route the server serves and docs/protocol.md documents', async () => {
    const doc = (await (await fetch(`${server.url}/v1/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const served = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
    );
    const md = readFileSync(join(ROOT, 'docs/protocol.md'), 'utf8');
    const documented = [...md.matchAll(/^\|\s*(GET|POST|PUT|PATCH|DELETE)\s*\|\s*`([^`]+)`\s*\|/gm)].map(
      ([, m, p]) => `${m} ${p}`,
    );
    const rows = new Set(HTTP_ROWS.map((r) => `${r.method} ${r.route}`));
    expect(served.length).toBeGreaterThanOrEqual(40);
    expect(served.filter((r) => !rows.has(r))).toEqual([]);
    expect(documented.filter((r) => !rows.has(r))).toEqual([]);
  });

  it('has a row for every client frame type', () => {
    const rows = new Set(FRAME_ROWS.map((r) => r.type));
    expect(Object.keys(FRAME_TYPES).filter((t) => !rows.has(t as ClientFrameType))).toEqual([]);
  });

  it('answers every HTTP route as the matrix says, for every subject', async () => {
    const failures: string[] = [];
    let cells = 0;
    let ghosts = 0;
    const cellsOf = HTTP_ROWS.flatMap((row) => SUBJECTS.map((s) => ({ row, s })));
    // Rows on the shared world run in order (one subject's request may change what the next
    // row sees only where the table says so); fresh rows run in parallel.
    const run = async ({ row, s }: { row: HttpRow; s: Subject }) => {
      const w = row.fresh ? await fresh() : shared;
      await row.prepare?.(w);
      const path = row.path ? row.path(w, s) : defaultPath(row, w);
      const body = row.body?.(w, s);
      const a = await request(w, row.method, path, tokenOf(w, s), body);
      const want = row.expect[s];
      const got: Expect = { status: a.status };
      const code = (a.body as { code?: unknown } | null)?.code;
      if (a.status >= 400 && typeof code === 'string') got.code = code as ErrorCode;
      cells++;
      const label = `${rowName(row)} by ${s}: ${a.status} ${JSON.stringify(a.body).slice(0, 160)}`;
      try {
        expect(got, label).toEqual(want);
        if (a.status < 400) row.check?.(a, w, s);
        // Somebody else's conversation or device answers exactly like one that does not exist.
        const ghost = want.code === 'not_found' ? ghostOf(path, w) : null;
        if (ghost) {
          const g = await request(w, row.method, ghost, tokenOf(w, s), body);
          expect(g, `${label}, against ${ghost}`).toEqual(a);
          ghosts++;
        }
      } catch (err) {
        failures.push(err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err));
      }
    };
    const sharedCells = cellsOf.filter((c) => !c.row.fresh);
    for (const row of HTTP_ROWS.filter((r) => !r.fresh)) {
      await Promise.all(sharedCells.filter((c) => c.row === row).map(run));
    }
    await pool(
      cellsOf.filter((c) => c.row.fresh),
      4,
      run,
    );
    console.log(
      `authz matrix: ${cells} HTTP cells (${HTTP_ROWS.length} rows x ${SUBJECTS.length} subjects), ` +
        `${ghosts} not-found answers equal to those for an id that does not exist`,
    );
    expect(failures).toEqual([]);
    expect(cells).toBe(HTTP_ROWS.length * SUBJECTS.length);
  });

  it('answers every client frame type as the matrix says, for every subject', async () => {
    const failures: string[] = [];
    let cells = 0;
    const all = FRAME_ROWS.flatMap((row) => SUBJECTS.map((s) => ({ row, s })));
    await pool(all, 4, async ({ row, s }) => {
      const w = await fresh();
      try {
        await runFrameCell(row, w, s);
      } catch (err) {
        failures.push(
          `${row.type} (${row.what}) by ${s}: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      cells++;
    });
    console.log(
      `authz matrix: ${cells} frame cells (${FRAME_ROWS.length} rows x ${SUBJECTS.length} subjects)`,
    );
    expect(failures).toEqual([]);
  });

  it('closes the socket of a device revoked while connected with 4003, and refuses it after', async () => {
    const w = await fresh();
    const sock = await openSynced(w.url, w.memberDevice2.token);
    const r = await api(
      w.url,
      'DELETE',
      `/v1/devices/${w.memberDevice2.device.id}`,
      undefined,
      w.member.token,
    );
    expect(r.status).toBe(200);
    expect(await sock.waitClose()).toBe(4003);
    await expect(RawSocket.open(w.url, w.memberDevice2.token)).rejects.toThrow('401');
  });
});
