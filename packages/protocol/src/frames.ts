/**
 * WebSocket frames: JSON text frames, each `{ "type": ..., ... }`. Server and SDK switch on
 * `type` exhaustively so the compiler finds every place a new frame must be handled.
 */
import type { ErrorCode } from './errors.js';
import type {
  Ack,
  AttachmentRef,
  ContactState,
  Conversation,
  Message,
  MessageAction,
  ReceiptCursor,
  User,
} from './models.js';
import {
  MAX_ATTACHMENTS,
  MAX_CLIENT_ID_LENGTH,
  MAX_CURSOR_LENGTH,
  MAX_REACTION_BYTES,
  MAX_SYNC_PAGE,
  MAX_WAVEFORM_BYTES,
} from './limits.js';

// ---- client -> server ----

/** Send a message. Answered by `ack` (after it is durably stored) or `error` with `ref` = clientId. */
export interface SendFrame {
  type: 'send';
  conversationId: string;
  clientId: string;
  /** The text, or with attachments a caption that may be empty. */
  text: string;
  /** Seq of a content message of the same conversation this one answers. */
  replyTo?: number;
  /** 1-10 finished uploads of the sender. */
  attachments?: AttachmentRef[];
  /** True: attach the server's preview of the text's first URL, if it has one ready. */
  preview?: boolean;
}
/**
 * Act on a message (edit, delete, react, pin, save, ...): stored as an event with its own seq,
 * idempotent by clientId, answered by `ack` or `error` with `ref` = clientId like `send`.
 */
export interface ActionFrame {
  type: 'action';
  conversationId: string;
  clientId: string;
  action: MessageAction;
}
/**
 * Start catch-up from a feed cursor, then switch to live delivery. `since` is a cursor from a
 * `ready`, `message` or `synced` frame (or `GET /v1/sync`), a feed position as older clients
 * kept it (the number N is read as the cursor "N"), or null for "from now".
 */
export interface SyncFrame {
  type: 'sync';
  since: string | number | null;
}
/** Move my read cursor in a conversation to `seq` (never backwards). */
export interface ReadFrame {
  type: 'read';
  conversationId: string;
  seq: number;
}
/** Application heartbeat; answered by `pong`. Keeps the user online (presence). */
export interface PingFrame {
  type: 'ping';
  t?: number;
}
/** This device has every message of the conversation up to `seq` (delivered receipt). */
export interface DeliveredFrame {
  type: 'delivered';
  conversationId: string;
  seq: number;
}
/** I am typing in a conversation; refresh every few seconds while typing. Never stored. */
export interface TypingFrame {
  type: 'typing';
  conversationId: string;
}

/**
 * Whether the app on this connection is in the foreground (shown to the person), sent when
 * that changes and, throttled, while the person uses it. A device whose app is in the
 * foreground and was used within the server's idle time gets no push notifications; a
 * connection that never says is taken to be in the foreground.
 */
export interface ActiveFrame {
  type: 'active';
  foreground: boolean;
}

export type ClientFrame =
  SendFrame | ActionFrame | SyncFrame | ReadFrame | PingFrame | DeliveredFrame | TypingFrame | ActiveFrame;
export type ClientFrameType = ClientFrame['type'];

// ---- server -> client ----

/** First frame after the upgrade. */
export interface ReadyFrame {
  type: 'ready';
  userId: string;
  deviceId: string;
  /**
   * Highest position in this user's feed. Kept for older clients, which pass it as `since`;
   * with one position space it is the same as `cursor`.
   */
  pos: number;
  /** Cursor at the head of this user's feed: `sync` with `since: cursor` receives only new messages. */
  cursor: string;
  /** How often the client should send `ping`, in ms. */
  heartbeatMs: number;
  /** Server id (useful in cluster mode and in logs). */
  serverId: string;
}
export interface AckFrame extends Ack {
  type: 'ack';
}
export interface MessageFrame {
  type: 'message';
  /**
   * This device's feed cursor after this message: what to pass as `since` to resume after it.
   * Set on every message frame a server writes to a socket (absent from older servers).
   */
  cursor?: string;
  message: Message;
}
/** Catch-up is complete up to `cursor`; every later message arrives live. */
export interface SyncedFrame {
  type: 'synced';
  /** Highest feed position caught up to (older clients keep it as their cursor). */
  pos: number;
  /** The feed cursor caught up to. */
  cursor: string;
}
/** A member's read cursor moved (my other devices, or others for receipts). */
export interface ReadCursorFrame {
  type: 'read';
  conversationId: string;
  userId: string;
  seq: number;
}
/** A conversation I am in was created or changed (members, name, roles). */
export interface ConversationFrame {
  type: 'conversation';
  conversation: Conversation;
}
/**
 * A conversation is gone from my list: I deleted a group I had left (on any device). Leaving
 * or being removed sends a `conversation` frame with `left` instead.
 */
export interface ConversationRemovedFrame {
  type: 'conversation_removed';
  conversationId: string;
}
export interface PongFrame {
  type: 'pong';
  t?: number;
}
/**
 * This server is going away (draining): reconnect now, through discovery, to another one.
 * Nothing is lost: unacked sends are resent and catch-up resumes from the cursor.
 */
export interface MoveFrame {
  type: 'move';
}
/** A contact or 1:1 partner went online or offline. */
export interface PresenceFrame {
  type: 'presence';
  userId: string;
  online: boolean;
  lastActiveAt: number | null;
}
/** Members' delivered/read cursors moved in a conversation (batched). */
export interface ReceiptsFrame {
  type: 'receipts';
  conversationId: string;
  cursors: ReceiptCursor[];
}
/** A member is typing; show it for `ttlMs` unless refreshed (or until their message arrives). */
export interface TypingIndicatorFrame {
  type: 'typing';
  conversationId: string;
  userId: string;
  ttlMs: number;
}
/** My relation to a user changed (request received, accepted, removed, ...). */
export interface ContactFrame {
  type: 'contact';
  user: User;
  state: ContactState;
}
/** A user I share a conversation or contact relation with (or I) changed their name. */
export interface UserFrame {
  type: 'user';
  user: User;
}
/** An error in answer to a frame; `ref` is the clientId of a send as sent, when there is one. */
export interface ErrorFrame {
  type: 'error';
  code: ErrorCode;
  message: string;
  retryable: boolean;
  ref?: string;
}

export type ServerFrame =
  | ReadyFrame
  | AckFrame
  | MessageFrame
  | SyncedFrame
  | ReadCursorFrame
  | ConversationFrame
  | ConversationRemovedFrame
  | PongFrame
  | MoveFrame
  | PresenceFrame
  | ReceiptsFrame
  | TypingIndicatorFrame
  | ContactFrame
  | UserFrame
  | ErrorFrame;
export type ServerFrameType = ServerFrame['type'];

// ---- decoding ----

export type DecodeResult =
  { ok: true; frame: ClientFrame } | { ok: false; code: ErrorCode; message: string; ref?: string };

function fail(code: ErrorCode, message: string, ref?: string): DecodeResult {
  return ref === undefined ? { ok: false, code, message } : { ok: false, code, message, ref };
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * The `attachments` of a send (frame or body): 1-10 distinct upload ids with optional
 * `durationMs` (integer, clamped to 0-3 h by the server) and `waveform` (base64, at most 128
 * bytes). Answers the refs, or what is wrong with them.
 */
export function decodeAttachmentRefs(v: unknown): AttachmentRef[] | string {
  if (!Array.isArray(v) || v.length === 0 || v.length > MAX_ATTACHMENTS) {
    return `attachments must be an array of 1-${MAX_ATTACHMENTS} uploads`;
  }
  const out: AttachmentRef[] = [];
  const seen = new Set<string>();
  for (const [i, a] of v.entries()) {
    if (typeof a !== 'object' || a === null || Array.isArray(a)) return `attachments[${i}] must be an object`;
    const r = a as Record<string, unknown>;
    if (!isId(r.uploadId) || r.uploadId.length === 0) return `attachments[${i}].uploadId must be a string`;
    if (seen.has(r.uploadId)) return `attachments[${i}].uploadId is named twice`;
    seen.add(r.uploadId);
    const ref: AttachmentRef = { uploadId: r.uploadId };
    if (r.durationMs !== undefined) {
      if (typeof r.durationMs !== 'number' || !Number.isSafeInteger(r.durationMs) || r.durationMs < 0) {
        return `attachments[${i}].durationMs must be a non-negative integer`;
      }
      ref.durationMs = r.durationMs;
    }
    if (r.waveform !== undefined) {
      if (
        typeof r.waveform !== 'string' ||
        r.waveform.length > Math.ceil(MAX_WAVEFORM_BYTES / 3) * 4 ||
        r.waveform.length % 4 !== 0 ||
        !BASE64.test(r.waveform)
      ) {
        return `attachments[${i}].waveform must be base64 of at most ${MAX_WAVEFORM_BYTES} bytes`;
      }
      ref.waveform = r.waveform;
    }
    out.push(ref);
  }
  return out;
}

function isId(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0 && v.length <= 64;
}

function isSeq(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/** A feed cursor's shape: positions of at most 16 digits joined by '.' (the server checks the rest). */
const CURSOR_SHAPE = /^[0-9]{1,16}(?:\.[0-9]{1,16})*$/;

const EMOJI = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u;
let graphemes: Intl.Segmenter | undefined;

/**
 * A reaction: one grapheme cluster of at most MAX_REACTION_BYTES bytes of UTF-8 that holds an
 * emoji (a pictograph, a flag's regional indicators or a keycap).
 */
export function isReactionEmoji(v: unknown): v is string {
  if (typeof v !== 'string' || v.length === 0 || v.length > MAX_REACTION_BYTES) return false;
  if (new TextEncoder().encode(v).length > MAX_REACTION_BYTES || !EMOJI.test(v)) return false;
  graphemes ??= new Intl.Segmenter('en', { granularity: 'grapheme' });
  let n = 0;
  for (const _ of graphemes.segment(v)) if (++n > 1) return false;
  return true;
}

/** The shape of an action (`ActionFrame.action`, the actions route), or why it is not one. */
export function decodeAction(
  v: unknown,
): { ok: true; action: MessageAction } | { ok: false; message: string } {
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return { ok: false, message: 'action must be an object' };
  const a = v as Record<string, unknown>;
  if (typeof a.target !== 'number' || !Number.isSafeInteger(a.target) || a.target < 1) {
    return { ok: false, message: 'action.target must be a positive integer (a seq)' };
  }
  const target = a.target;
  switch (a.kind) {
    case 'edit':
      if (typeof a.text !== 'string') return { ok: false, message: 'action.text must be a string' };
      return { ok: true, action: { kind: 'edit', target, text: a.text } };
    case 'react':
    case 'unreact':
      if (!isReactionEmoji(a.emoji)) {
        return {
          ok: false,
          message: `action.emoji must be one emoji of at most ${MAX_REACTION_BYTES} bytes`,
        };
      }
      return { ok: true, action: { kind: a.kind, target, emoji: a.emoji } };
    case 'delete':
    case 'hide':
    case 'pin':
    case 'unpin':
    case 'save':
    case 'unsave':
      return { ok: true, action: { kind: a.kind, target } };
    default:
      return { ok: false, message: 'action.kind is not a known action' };
  }
}

/** A feed cursor as a client may send it: a cursor string or a position (a legacy cursor). */
export function isCursor(v: unknown): v is string | number {
  if (typeof v === 'number') return isSeq(v);
  return typeof v === 'string' && v.length <= MAX_CURSOR_LENGTH && CURSOR_SHAPE.test(v);
}

/**
 * Parse and validate one client frame. Never throws: bad input yields the error code the
 * server answers with. Text length is checked by the server (it needs code points).
 */
/**
 * The clientId of a frame that stores something (`send`, `action`), or the failure, which
 * echoes the whole clientId also when it is refused for its length (the client matches errors
 * to its sends by it; maxFrameBytes bounds the echo).
 */
function storedClientId(f: Record<string, unknown>): string | DecodeResult {
  if (typeof f.clientId === 'string' && f.clientId.length > 0 && f.clientId.length <= MAX_CLIENT_ID_LENGTH) {
    return f.clientId;
  }
  return fail(
    'invalid_field',
    `clientId must be a string of 1-${MAX_CLIENT_ID_LENGTH} characters`,
    typeof f.clientId === 'string' ? f.clientId : undefined,
  );
}

export function decodeClientFrame(data: string): DecodeResult {
  let raw: unknown;
  try {
    raw = JSON.parse(data);
  } catch {
    return fail('invalid_json', 'Frame is not valid JSON');
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return fail('invalid_field', 'A frame is a JSON object with a "type"');
  }
  const f = raw as Record<string, unknown>;
  const type = f.type as ClientFrameType;
  switch (type) {
    case 'send': {
      const ref = storedClientId(f);
      if (typeof ref !== 'string') return ref;
      if (!isId(f.conversationId)) return fail('invalid_field', 'conversationId must be a string', ref);
      if (typeof f.text !== 'string') return fail('invalid_field', 'text must be a string', ref);
      if (f.replyTo !== undefined && (!isSeq(f.replyTo) || f.replyTo < 1)) {
        return fail('invalid_field', 'replyTo must be a positive integer (a seq)', ref);
      }
      const send: SendFrame = {
        type: 'send',
        conversationId: f.conversationId,
        clientId: ref,
        text: f.text,
      };
      if (f.replyTo !== undefined) send.replyTo = f.replyTo;
      if (f.attachments !== undefined) {
        const refs = decodeAttachmentRefs(f.attachments);
        if (typeof refs === 'string') return fail('invalid_field', refs, ref);
        send.attachments = refs;
      }
      if (f.preview !== undefined) {
        if (typeof f.preview !== 'boolean') return fail('invalid_field', 'preview must be a boolean', ref);
        if (f.preview) send.preview = true;
      }
      return { ok: true, frame: send };
    }
    case 'action': {
      const ref = storedClientId(f);
      if (typeof ref !== 'string') return ref;
      if (!isId(f.conversationId)) return fail('invalid_field', 'conversationId must be a string', ref);
      const a = decodeAction(f.action);
      if (!a.ok) return fail('invalid_field', a.message, ref);
      return {
        ok: true,
        frame: { type: 'action', conversationId: f.conversationId, clientId: ref, action: a.action },
      };
    }
    case 'sync': {
      if (f.since !== null && f.since !== undefined && !isCursor(f.since)) {
        return fail('invalid_field', 'since must be a feed cursor, a non-negative integer or null');
      }
      return {
        ok: true,
        frame: { type: 'sync', since: (f.since as string | number | null | undefined) ?? null },
      };
    }
    case 'read': {
      if (!isId(f.conversationId)) return fail('invalid_field', 'conversationId must be a string');
      if (!isSeq(f.seq)) return fail('invalid_field', 'seq must be a non-negative integer');
      return { ok: true, frame: { type: 'read', conversationId: f.conversationId, seq: f.seq } };
    }
    case 'ping': {
      if (f.t !== undefined && typeof f.t !== 'number') return fail('invalid_field', 't must be a number');
      return { ok: true, frame: f.t === undefined ? { type: 'ping' } : { type: 'ping', t: f.t } };
    }
    case 'delivered': {
      if (!isId(f.conversationId)) return fail('invalid_field', 'conversationId must be a string');
      if (!isSeq(f.seq)) return fail('invalid_field', 'seq must be a non-negative integer');
      return { ok: true, frame: { type: 'delivered', conversationId: f.conversationId, seq: f.seq } };
    }
    case 'typing': {
      if (!isId(f.conversationId)) return fail('invalid_field', 'conversationId must be a string');
      return { ok: true, frame: { type: 'typing', conversationId: f.conversationId } };
    }
    case 'active': {
      if (typeof f.foreground !== 'boolean') return fail('invalid_field', 'foreground must be a boolean');
      return { ok: true, frame: { type: 'active', foreground: f.foreground } };
    }
    default: {
      const unknownType: never = type;
      // Only a primitive is quoted: stringifying a deeply nested `type` would overflow the stack.
      const shown: unknown = unknownType;
      const what =
        typeof shown === 'object' && shown !== null
          ? Array.isArray(shown)
            ? '(an array)'
            : '(an object)'
          : (JSON.stringify(shown)?.slice(0, 40) ?? '');
      return fail('unknown_frame', `Unknown frame type ${what}`);
    }
  }
}

/** Parse a server frame (used by the SDK). Throws on non-JSON; unknown types are passed through. */
export function decodeServerFrame(data: string): ServerFrame {
  return JSON.parse(data) as ServerFrame;
}

/** Sync page size the server uses when streaming catch-up over WebSocket. */
export const SYNC_PAGE_SIZE = MAX_SYNC_PAGE;
