/**
 * The one registry of Parley error codes (as fastify keeps every error in one file).
 *
 * Every error a client can see, over HTTP or WebSocket, has a stable `code` listed here with
 * its HTTP status and what happens on a WebSocket: either an `error` frame (the connection
 * stays usable) or a close with the given close code. `retryable` tells clients whether
 * sending the same request again later may succeed. docs/protocol.md lists every code; a
 * test fails when one is missing there.
 */
export interface ErrorSpec {
  /** HTTP status used when the error answers an HTTP request. */
  readonly status: number;
  /** WebSocket behaviour: `'frame'` sends an `error` frame; a number closes with that code. */
  readonly ws: 'frame' | number;
  /** Whether the same request may succeed if retried later unchanged. */
  readonly retryable: boolean;
  /** Default human-readable message. */
  readonly message: string;
}

export const ERRORS = {
  invalid_json: { status: 400, ws: 'frame', retryable: false, message: 'Body or frame is not valid JSON' },
  unknown_frame: { status: 400, ws: 'frame', retryable: false, message: 'Unknown frame type' },
  invalid_field: {
    status: 400,
    ws: 'frame',
    retryable: false,
    message: 'A field is missing or has the wrong type',
  },
  text_empty: { status: 400, ws: 'frame', retryable: false, message: 'Message text is empty' },
  text_too_long: {
    status: 400,
    ws: 'frame',
    retryable: false,
    message: 'Message text exceeds 99,999 characters',
  },
  body_too_large: { status: 413, ws: 'frame', retryable: false, message: 'Request body is too large' },
  quota_exceeded: {
    status: 413,
    ws: 'frame',
    retryable: false,
    message: 'The upload would take your stored files past your quota',
  },
  unsupported_media: {
    status: 415,
    ws: 'frame',
    retryable: false,
    message: 'The file is not an image the server can read, or has too many pixels',
  },
  range_not_satisfiable: {
    status: 416,
    ws: 'frame',
    retryable: false,
    message: 'The requested range starts past the end of the file',
  },
  frame_too_large: {
    status: 413,
    ws: 1009,
    retryable: false,
    message: 'WebSocket frame exceeds the size limit',
  },
  unauthorized: {
    status: 401,
    ws: 4001,
    retryable: false,
    message: 'Missing, invalid or revoked session token',
  },
  invalid_credentials: { status: 401, ws: 'frame', retryable: false, message: 'Wrong username or password' },
  device_revoked: {
    status: 401,
    ws: 4003,
    retryable: false,
    message: 'This device was logged out or revoked',
  },
  invalid_username: {
    status: 400,
    ws: 'frame',
    retryable: false,
    message: 'Username must be 3-32 characters of a-z, 0-9, _ and .',
  },
  weak_password: {
    status: 400,
    ws: 'frame',
    retryable: false,
    message: 'Password must be at least 8 characters',
  },
  username_taken: { status: 409, ws: 'frame', retryable: false, message: 'Username is already taken' },
  not_found: { status: 404, ws: 'frame', retryable: false, message: 'Not found' },
  forbidden: { status: 403, ws: 'frame', retryable: false, message: 'Only a group admin can do this' },
  not_allowed: {
    status: 403,
    ws: 'frame',
    retryable: false,
    message: 'These users only accept group adds from their contacts',
  },
  not_sender: {
    status: 403,
    ws: 'frame',
    retryable: false,
    message: 'Only the sender of the message can do this',
  },
  message_deleted: {
    status: 409,
    ws: 'frame',
    retryable: false,
    message: 'The message was deleted for everyone',
  },
  too_many_reactions: {
    status: 409,
    ws: 'frame',
    retryable: false,
    message: 'A message has at most 50 different reactions',
  },
  too_many_pins: {
    status: 409,
    ws: 'frame',
    retryable: false,
    message: 'A conversation has at most 50 pinned messages',
  },
  blocked: {
    status: 403,
    ws: 'frame',
    retryable: false,
    message: 'You cannot message this user (blocked)',
  },
  too_many_ids: { status: 400, ws: 'frame', retryable: false, message: 'At most 100 ids per request' },
  not_group: {
    status: 400,
    ws: 'frame',
    retryable: false,
    message: 'This operation needs a group conversation',
  },
  still_member: {
    status: 409,
    ws: 'frame',
    retryable: false,
    message: 'Only a chat you left can be deleted from your list',
  },
  group_full: { status: 409, ws: 'frame', retryable: false, message: 'A group has at most 100 members' },
  group_too_small: {
    status: 400,
    ws: 'frame',
    retryable: false,
    message: 'A group needs at least 2 members',
  },
  client_id_conflict: {
    status: 409,
    ws: 'frame',
    retryable: false,
    message: 'This client id was already used for a different message',
  },
  push_not_configured: {
    status: 400,
    ws: 'frame',
    retryable: false,
    message: 'This server cannot send this kind of push notification (FCM or APNs is not configured)',
  },
  rate_limited: { status: 429, ws: 'frame', retryable: true, message: 'Too many requests; slow down' },
  origin_not_allowed: {
    status: 403,
    ws: 'frame',
    retryable: false,
    message: 'This server does not accept WebSockets from pages of this origin',
  },
  slow_consumer: {
    status: 503,
    ws: 4008,
    retryable: true,
    message: 'Connection fell too far behind; reconnect',
  },
  server_shutdown: { status: 503, ws: 1001, retryable: true, message: 'Server is shutting down; reconnect' },
  storage_full: {
    status: 503,
    ws: 'frame',
    retryable: true,
    message: "The server's disk is full; retry later",
  },
  unavailable: {
    status: 503,
    ws: 'frame',
    retryable: true,
    message: 'Storage is temporarily unavailable; retry',
  },
  internal: { status: 500, ws: 'frame', retryable: true, message: 'Internal server error' },
  storage_failed: {
    status: 500,
    ws: 'frame',
    retryable: false,
    message: 'The server cannot read or write its data until an operator repairs it',
  },
} as const satisfies Record<string, ErrorSpec>;

/** Every error code Parley can return. */
export type ErrorCode = keyof typeof ERRORS;

/** All codes, in registry order. */
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

/** Body of every HTTP error response and payload of every WebSocket `error` frame. */
export interface ErrorBody {
  code: ErrorCode;
  message: string;
  retryable: boolean;
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERRORS, value);
}

/** An error carrying a registry code; thrown by the server's domain layer and by the SDK. */
export class ParleyError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly status: number;
  /** Seconds to wait before retrying (an HTTP answer's `Retry-After`), when known. */
  readonly retryAfter: number | undefined;
  constructor(code: ErrorCode, message?: string, opts: { retryAfter?: number } = {}) {
    const spec: ErrorSpec = ERRORS[code];
    super(message ?? spec.message);
    this.name = 'ParleyError';
    this.code = code;
    this.retryable = spec.retryable;
    this.status = spec.status;
    this.retryAfter = opts.retryAfter;
  }
  toBody(): ErrorBody {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}
