import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  MAX_CLIENT_ID_LENGTH,
  MAX_CURSOR_LENGTH,
  MAX_FORWARD_TARGETS,
  MAX_SEARCH_PAGE,
  MAX_PREVIEW_URL_LENGTH,
  MAX_SEARCH_QUERY_LENGTH,
  ParleyError,
  decodeAction,
  decodeAttachmentRefs,
} from '@parley/protocol';
import type {
  ActionRequest,
  ForwardRequest,
  AddMembersRequest,
  DirectRequest,
  GroupRequest,
  LinkPreview,
  LoginRequest,
  MuteRequest,
  ReadRequest,
  RegisterPushRequest,
  RenameRequest,
  SendRequest,
  SignupRequest,
  UpdateMeRequest,
  UpdatePrivacyRequest,
  UpdateSettingsRequest,
  UserTarget,
} from '@parley/protocol';
import { LoginThrottledError } from '../auth/auth-service.js';
import type { AuthContext, AuthService } from '../auth/auth-service.js';
import type { ConversationService } from '../conversations/conversation-service.js';
import type { MessageService } from '../messages/message-service.js';
import type { ContactService } from '../contacts/contact-service.js';
import type { PresenceService } from '../presence/presence-service.js';
import type { PushService } from '../push/push-service.js';
import type { SearchRequest, SearchService } from '../search/search-service.js';
import { withoutImage } from '../previews/link-preview.js';
import type { LinkPreviewer } from '../previews/link-preview.js';
import { KeyedBuckets } from '../rate-limit.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
}

export interface RouteDeps {
  auth: AuthService;
  conversations: ConversationService;
  messages: MessageService;
  contacts: ContactService;
  presence: PresenceService;
  push: PushService;
  search: SearchService;
  /** The process's one previewer: the sender's app asks it, a send takes from its cache. */
  linkPreviews: LinkPreviewer;
  authRatePerMin: number;
}

/** Link previews one user may ask for, per minute (each may fetch a page). */
export const LINK_PREVIEWS_PER_MIN = 30;

const str = { type: 'string' } as const;
const int = { type: 'integer', minimum: 0 } as const;
const idParams = {
  type: 'object',
  properties: { id: { type: 'string', maxLength: 64 } },
  required: ['id'],
} as const;
const memberParams = {
  type: 'object',
  properties: { id: { type: 'string', maxLength: 64 }, userId: { type: 'string', maxLength: 64 } },
  required: ['id', 'userId'],
} as const;

function body(properties: Record<string, unknown>, required: string[]) {
  return { type: 'object', properties, required, additionalProperties: false } as const;
}

/** The caller's identity; the route's preHandler has already refused anonymous calls. */
function me(req: FastifyRequest): AuthContext {
  if (!req.auth) throw new ParleyError('unauthorized');
  return req.auth;
}

/** Every HTTP route of docs/protocol.md (the contract is packages/protocol/src/http.ts). */
export function registerRoutes(app: FastifyInstance, d: RouteDeps): void {
  app.decorateRequest('auth', null);
  const authed = {
    preHandler: async (req: FastifyRequest) => {
      const h = req.headers.authorization;
      const token = h?.startsWith('Bearer ') ? h.slice(7).trim() : null;
      req.auth = token ? await d.auth.authenticate(token) : null;
      if (!req.auth) throw new ParleyError('unauthorized');
    },
  };
  const authLimit = { rateLimit: { max: d.authRatePerMin, timeWindow: '1 minute' } };

  app.post<{ Body: SignupRequest }>(
    '/v1/users',
    {
      config: authLimit,
      schema: {
        body: body(
          {
            username: { type: 'string', maxLength: 64 },
            password: { type: 'string', maxLength: 4096 },
            displayName: str,
          },
          ['username', 'password'],
        ),
      },
    },
    async (req, reply) => {
      const user = await d.auth.signup(req.body.username, req.body.password, req.body.displayName, {
        ip: req.ip,
      });
      return reply.status(201).send(user);
    },
  );

  app.post<{ Body: LoginRequest }>(
    '/v1/sessions',
    {
      config: authLimit,
      schema: {
        body: body(
          {
            username: { type: 'string', maxLength: 64 },
            password: { type: 'string', maxLength: 4096 },
            deviceName: str,
          },
          ['username', 'password'],
        ),
      },
    },
    async (req, reply) => {
      const session = await d.auth
        .login(req.body.username, req.body.password, req.body.deviceName, { ip: req.ip })
        .catch((err: unknown) => {
          // The account's back-off, in whole seconds as HTTP wants (RFC 9110 §10.2.3).
          if (err instanceof LoginThrottledError)
            void reply.header('retry-after', String(Math.ceil(err.retryAfterMs / 1000)));
          throw err;
        });
      return reply.status(201).send(session);
    },
  );

  app.delete('/v1/sessions/current', authed, async (req) => {
    const ctx = me(req);
    await d.auth.revokeDevice(ctx, ctx.deviceId, { ip: req.ip });
    return { ok: true };
  });

  app.get('/v1/me', authed, async (req) => d.auth.me(me(req).userId));

  app.patch<{ Body: UpdateMeRequest }>(
    '/v1/me',
    { ...authed, schema: { body: body({ displayName: str }, ['displayName']) } },
    async (req) => {
      const user = await d.auth.setDisplayName(me(req).userId, req.body.displayName);
      await d.contacts.announceUser(user);
      return user;
    },
  );

  app.get('/v1/me/settings', authed, async (req) => d.auth.settings(me(req).userId));

  app.patch<{ Body: UpdateSettingsRequest }>(
    '/v1/me/settings',
    { ...authed, schema: { body: body({ pushPreview: { type: 'boolean' } }, []) } },
    async (req) => d.auth.updateSettings(me(req).userId, req.body),
  );

  app.get('/v1/me/privacy', authed, async (req) => d.presence.privacy(me(req).userId));

  const audience = { type: 'string', enum: ['everyone', 'contacts', 'nobody'] } as const;
  app.patch<{ Body: UpdatePrivacyRequest }>(
    '/v1/me/privacy',
    {
      ...authed,
      schema: {
        body: body(
          {
            lastSeen: audience,
            online: audience,
            directMessages: { type: 'string', enum: ['everyone', 'requests', 'contacts'] },
            groupAdds: { type: 'string', enum: ['everyone', 'contacts'] },
          },
          [],
        ),
      },
    },
    async (req) => d.presence.setPrivacy(me(req).userId, req.body),
  );

  app.get<{ Params: { username: string } }>('/v1/users/:username', authed, async (req) => {
    me(req);
    return d.auth.getUser(req.params.username);
  });

  app.get('/v1/devices', authed, async (req) => ({ devices: await d.auth.listDevices(me(req)) }));

  app.delete<{ Params: { id: string } }>(
    '/v1/devices/:id',
    { ...authed, schema: { params: idParams } },
    async (req) => {
      await d.auth.revokeDevice(me(req), req.params.id, { ip: req.ip });
      return { ok: true };
    },
  );

  app.get<{ Querystring: { limit?: number } }>(
    '/v1/conversations',
    {
      ...authed,
      schema: {
        querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 500 } } },
      },
    },
    async (req) => ({ conversations: await d.conversations.list(me(req).userId, req.query.limit ?? 100) }),
  );

  app.post<{ Body: DirectRequest }>(
    '/v1/conversations/direct',
    {
      ...authed,
      schema: {
        body: body(
          { username: { type: 'string', maxLength: 64 }, userId: { type: 'string', maxLength: 64 } },
          [],
        ),
      },
    },
    async (req) => {
      if (req.body.username === undefined && req.body.userId === undefined) {
        throw new ParleyError('invalid_field', 'username or userId is required');
      }
      return d.conversations.direct(me(req).userId, req.body);
    },
  );

  app.post<{ Body: GroupRequest }>(
    '/v1/conversations/groups',
    {
      ...authed,
      schema: {
        body: body(
          { name: str, members: { type: 'array', items: { type: 'string', maxLength: 64 }, maxItems: 1000 } },
          ['name', 'members'],
        ),
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(await d.conversations.createGroup(me(req).userId, req.body.name, req.body.members)),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id',
    { ...authed, schema: { params: idParams } },
    async (req) => d.conversations.get(req.params.id, me(req).userId),
  );

  app.patch<{ Params: { id: string }; Body: RenameRequest }>(
    '/v1/conversations/:id',
    { ...authed, schema: { params: idParams, body: body({ name: str }, ['name']) } },
    async (req) => d.conversations.rename(me(req).userId, req.params.id, req.body.name),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/conversations/:id',
    { ...authed, schema: { params: idParams } },
    async (req) => {
      await d.conversations.deleteLeft(me(req).userId, req.params.id);
      return { ok: true };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/conversations/:id/accept',
    { ...authed, schema: { params: idParams } },
    async (req) => d.conversations.acceptRequest(me(req).userId, req.params.id),
  );

  app.put<{ Params: { id: string }; Body: MuteRequest }>(
    '/v1/conversations/:id/mute',
    {
      ...authed,
      schema: {
        params: idParams,
        body: body({ until: { type: ['integer', 'null'], minimum: 0 }, mentions: { type: 'boolean' } }, [
          'until',
        ]),
      },
    },
    async (req) =>
      d.conversations.mute(me(req).userId, req.params.id, req.body.until, req.body.mentions === true),
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/conversations/:id/mute',
    { ...authed, schema: { params: idParams } },
    async (req) => d.conversations.mute(me(req).userId, req.params.id, 0),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id/members',
    { ...authed, schema: { params: idParams } },
    async (req) => ({
      members: await d.conversations.members(me(req).userId, req.params.id),
    }),
  );

  app.post<{ Params: { id: string }; Body: AddMembersRequest }>(
    '/v1/conversations/:id/members',
    {
      ...authed,
      schema: {
        params: idParams,
        body: body(
          {
            usernames: {
              type: 'array',
              items: { type: 'string', maxLength: 64 },
              minItems: 1,
              maxItems: 1000,
            },
          },
          ['usernames'],
        ),
      },
    },
    async (req) => ({
      members: await d.conversations.addMembers(me(req).userId, req.params.id, req.body.usernames),
    }),
  );

  app.delete<{ Params: { id: string; userId: string } }>(
    '/v1/conversations/:id/members/:userId',
    { ...authed, schema: { params: memberParams } },
    async (req) => {
      await d.conversations.removeMember(me(req).userId, req.params.id, req.params.userId);
      return { ok: true };
    },
  );

  app.post<{ Params: { id: string; userId: string } }>(
    '/v1/conversations/:id/admins/:userId',
    { ...authed, schema: { params: memberParams } },
    async (req) => ({
      members: await d.conversations.promote(me(req).userId, req.params.id, req.params.userId),
    }),
  );

  app.get<{ Params: { id: string }; Querystring: { before?: number; after?: number; limit?: number } }>(
    '/v1/conversations/:id/messages',
    {
      ...authed,
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: { before: int, after: int, limit: { type: 'integer', minimum: 1, maximum: 200 } },
        },
      },
    },
    async (req, reply) =>
      // Already JSON (serialized by the store): sent as is.
      reply
        .type('application/json')
        .send(await d.messages.historyJson(me(req).userId, req.params.id, req.query)),
  );

  app.post<{ Params: { id: string }; Body: SendRequest }>(
    '/v1/conversations/:id/messages',
    {
      ...authed,
      schema: {
        params: idParams,
        body: body(
          {
            clientId: { type: 'string', minLength: 1, maxLength: MAX_CLIENT_ID_LENGTH },
            text: str,
            replyTo: { type: 'integer', minimum: 1 },
            attachments: {
              type: 'array',
              description: '1-10 finished uploads of mine: `{uploadId, durationMs?, waveform?}`.',
            },
            preview: {
              type: 'boolean',
              description: "True: attach the server's preview of the text's first URL, if it has one ready.",
            },
          },
          ['clientId', 'text'],
        ),
      },
    },
    async (req, reply) => {
      const { clientId, text, replyTo, preview } = req.body;
      const refs =
        req.body.attachments === undefined ? undefined : decodeAttachmentRefs(req.body.attachments);
      if (typeof refs === 'string') throw new ParleyError('invalid_field', refs);
      const ack = await d.messages.send(me(req).userId, req.params.id, clientId, text, {
        ...(replyTo !== undefined && { replyTo }),
        ...(refs !== undefined && { attachments: refs }),
        ...(preview === true && { preview: true }),
      });
      return reply.status(ack.duplicate ? 200 : 201).send(ack);
    },
  );

  app.post<{ Params: { id: string }; Body: ActionRequest }>(
    '/v1/conversations/:id/actions',
    {
      ...authed,
      schema: {
        params: idParams,
        body: body(
          {
            clientId: { type: 'string', minLength: 1, maxLength: MAX_CLIENT_ID_LENGTH },
            action: {
              type: 'object',
              description:
                '`{kind, target}`; `edit` adds `text`, `react` and `unreact` add `emoji`. Kinds: edit, delete, hide, react, unreact, pin, unpin, save, unsave.',
            },
          },
          ['clientId', 'action'],
        ),
      },
    },
    async (req, reply) => {
      const a = decodeAction(req.body.action);
      if (!a.ok) throw new ParleyError('invalid_field', a.message);
      const ack = await d.messages.act(me(req).userId, req.params.id, req.body.clientId, a.action);
      return reply.status(ack.duplicate ? 200 : 201).send(ack);
    },
  );

  app.post<{ Params: { id: string }; Body: ForwardRequest }>(
    '/v1/conversations/:id/forward',
    {
      ...authed,
      schema: {
        params: idParams,
        body: body(
          {
            clientId: { type: 'string', minLength: 1, maxLength: MAX_CLIENT_ID_LENGTH - 3 },
            seq: { type: 'integer', minimum: 1 },
            to: {
              type: 'array',
              minItems: 1,
              maxItems: MAX_FORWARD_TARGETS,
              items: { type: 'string', minLength: 1, maxLength: 64 },
            },
          },
          ['clientId', 'seq', 'to'],
        ),
      },
    },
    async (req) =>
      d.messages.forward(me(req).userId, req.params.id, req.body.clientId, req.body.seq, req.body.to),
  );

  app.get<{ Params: { id: string } }>(
    '/v1/conversations/:id/pins',
    { ...authed, schema: { params: idParams } },
    async (req) => d.messages.pins(me(req).userId, req.params.id),
  );

  const listQuery = {
    type: 'object',
    properties: {
      before: { type: 'string', maxLength: 100, description: '`next` of the previous page' },
      limit: { type: 'integer', minimum: 1, maximum: 200 },
    },
  } as const;
  app.get<{ Querystring: { before?: string; limit?: number } }>(
    '/v1/mentions',
    { ...authed, schema: { querystring: listQuery } },
    async (req) => d.messages.mentions(me(req).userId, req.query),
  );
  app.get<{ Querystring: { before?: string; limit?: number } }>(
    '/v1/saved',
    { ...authed, schema: { querystring: listQuery } },
    async (req) => d.messages.saved(me(req).userId, req.query),
  );

  app.post<{ Params: { id: string }; Body: ReadRequest }>(
    '/v1/conversations/:id/read',
    { ...authed, schema: { params: idParams, body: body({ seq: int }, ['seq']) } },
    async (req) => ({ seq: await d.messages.markRead(me(req).userId, req.params.id, req.body.seq) }),
  );

  app.get<{ Querystring: SearchRequest }>(
    '/v1/search',
    {
      ...authed,
      schema: {
        querystring: {
          type: 'object',
          properties: {
            q: { type: 'string', maxLength: MAX_SEARCH_QUERY_LENGTH, description: 'The words to find' },
            conversation: { type: 'string', maxLength: 64 },
            sender: { type: 'string', maxLength: 64, description: 'A user id' },
            before: { ...int, description: 'Messages created before this time (ms)' },
            after: { ...int, description: 'Messages created after this time (ms)' },
            limit: { type: 'integer', minimum: 1, maximum: MAX_SEARCH_PAGE },
            cursor: { type: 'string', maxLength: 32, description: "The last page's `cursor`" },
          },
          required: ['q'],
        },
      },
    },
    async (req) => d.search.search(me(req).userId, req.query),
  );

  const previewsPerUser = new KeyedBuckets(LINK_PREVIEWS_PER_MIN / 60, LINK_PREVIEWS_PER_MIN);
  app.get<{ Querystring: { url: string } }>(
    '/v1/link-preview',
    {
      ...authed,
      schema: {
        querystring: {
          type: 'object',
          properties: {
            url: {
              type: 'string',
              minLength: 1,
              maxLength: MAX_PREVIEW_URL_LENGTH,
              description: 'An http(s) URL',
            },
          },
          required: ['url'],
        },
      },
    },
    async (req): Promise<LinkPreview> => {
      if (!previewsPerUser.take(me(req).userId, Date.now())) throw new ParleyError('rate_limited');
      const found = await d.linkPreviews.preview(req.query.url);
      if (found === null) throw new ParleyError('not_found', 'No preview for this URL');
      return withoutImage(found);
    },
  );

  app.get<{ Querystring: { since?: string; limit?: number } }>(
    '/v1/sync',
    {
      ...authed,
      schema: {
        querystring: {
          type: 'object',
          // A feed cursor (a position from an older client is one too), shaped like the
          // WebSocket `sync`'s; the service refuses one that names a position space twice.
          properties: {
            since: {
              type: 'string',
              maxLength: MAX_CURSOR_LENGTH,
              pattern: '^[0-9]{1,16}(\\.[0-9]{1,16})*$',
              description: 'Feed cursor from the last page (`cursor`); a position also works. Default 0.',
            },
            limit: { type: 'integer', minimum: 1, maximum: 500 },
          },
        },
      },
    },
    async (req) => d.messages.sync(me(req).userId, req.query.since ?? 0, req.query.limit),
  );

  app.get<{ Params: { id: string }; Querystring: { seq: number } }>(
    '/v1/conversations/:id/receipts',
    {
      ...authed,
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: { seq: { type: 'integer', minimum: 1 } },
          required: ['seq'],
        },
      },
    },
    async (req) => d.messages.whoHas(me(req).userId, req.params.id, req.query.seq),
  );

  const userTarget = {
    body: body(
      { username: { type: 'string', maxLength: 64 }, userId: { type: 'string', maxLength: 64 } },
      [],
    ),
  };
  const userParams = {
    params: {
      type: 'object',
      properties: { userId: { type: 'string', maxLength: 64 } },
      required: ['userId'],
    },
  } as const;
  const needTarget = (b: UserTarget) => {
    if (b.username === undefined && b.userId === undefined) {
      throw new ParleyError('invalid_field', 'username or userId is required');
    }
    return b;
  };

  app.get('/v1/contacts', authed, async (req) => d.contacts.list(me(req).userId));
  app.post<{ Body: UserTarget }>('/v1/contacts', { ...authed, schema: userTarget }, async (req) => ({
    state: await d.contacts.request(me(req).userId, needTarget(req.body)),
  }));
  app.post<{ Params: { userId: string } }>(
    '/v1/contacts/:userId/accept',
    { ...authed, schema: userParams },
    async (req) => ({ state: await d.contacts.accept(me(req).userId, req.params.userId) }),
  );
  app.post<{ Params: { userId: string } }>(
    '/v1/contacts/:userId/decline',
    { ...authed, schema: userParams },
    async (req) => ({ state: await d.contacts.decline(me(req).userId, req.params.userId) }),
  );
  app.delete<{ Params: { userId: string } }>(
    '/v1/contacts/:userId',
    { ...authed, schema: userParams },
    async (req) => ({
      state: await d.contacts.remove(me(req).userId, req.params.userId),
    }),
  );
  app.post<{ Body: UserTarget }>('/v1/blocks', { ...authed, schema: userTarget }, async (req) => {
    await d.contacts.block(me(req).userId, needTarget(req.body));
    return { ok: true };
  });
  app.delete<{ Params: { userId: string } }>(
    '/v1/blocks/:userId',
    { ...authed, schema: userParams },
    async (req) => {
      await d.contacts.unblock(me(req).userId, req.params.userId);
      return { ok: true };
    },
  );
  app.get<{ Querystring: { userIds: string } }>(
    '/v1/presence',
    {
      ...authed,
      schema: {
        querystring: {
          type: 'object',
          properties: { userIds: { type: 'string', maxLength: 8192 } },
          required: ['userIds'],
        },
      },
    },
    async (req) => {
      const ids = req.query.userIds
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      return { presence: await d.presence.get(me(req).userId, ids) };
    },
  );

  // ---- push notifications ----

  app.get('/v1/push/vapid', async () => ({ publicKey: d.push.vapidPublicKey }));

  app.post<{ Body: RegisterPushRequest }>(
    '/v1/push/subscriptions',
    {
      ...authed,
      schema: {
        body: body(
          {
            kind: { type: 'string', enum: ['webpush', 'fcm', 'apns'] },
            endpoint: { type: 'string', maxLength: 2048 },
            keys: body(
              { p256dh: { type: 'string', maxLength: 256 }, auth: { type: 'string', maxLength: 64 } },
              ['p256dh', 'auth'],
            ),
            // Sent by browsers in PushSubscription.toJSON(); not used.
            expirationTime: { type: ['number', 'null'] },
            token: { type: 'string', maxLength: 4096 },
          },
          ['kind'],
        ),
      },
    },
    async (req, reply) => {
      const b = req.body as Partial<{ kind: string; endpoint: string; keys: object; token: string }>;
      if (b.kind === 'webpush' ? b.endpoint === undefined || b.keys === undefined : b.token === undefined) {
        throw new ParleyError(
          'invalid_field',
          b.kind === 'webpush' ? 'endpoint and keys are required' : 'token is required',
        );
      }
      return reply.status(201).send(await d.push.register(me(req), req.body));
    },
  );

  app.get('/v1/push/subscriptions', authed, async (req) => ({
    subscriptions: await d.push.list(me(req).userId),
  }));

  app.delete<{ Params: { id: string } }>(
    '/v1/push/subscriptions/:id',
    { ...authed, schema: { params: idParams } },
    async (req) => {
      await d.push.unregister(me(req).userId, req.params.id);
      return { ok: true };
    },
  );
}
