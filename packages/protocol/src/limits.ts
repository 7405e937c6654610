/** Protocol-wide limits. Servers may lower the configurable ones; clients read them from `ready`. */

/** Longest message text, in Unicode code points. Text of 100,000 code points is refused. */
export const MAX_TEXT_CODE_POINTS = 99_999;
/**
 * Longest message text in UTF-8 bytes (256 KiB), checked as well as the code points: it bounds
 * what one message costs to store and send whatever script it is written in.
 */
export const MAX_TEXT_BYTES = 262_144;
/** Most members of a group conversation, creator included. */
export const MAX_GROUP_MEMBERS = 100;
/** Most messages in one history page (the server also stops a page at its byte budget). */
export const MAX_HISTORY_PAGE = 200;
/** Longest search query, in UTF-16 units (`invalid_field` past it). */
export const MAX_SEARCH_QUERY_LENGTH = 256;
/** Most hits in one search page (default 20). */
export const MAX_SEARCH_PAGE = 50;
/** How deep search pages go: past this many hits, a search has no next page. */
export const MAX_SEARCH_RESULTS = 1000;
/** Most feed entries in one sync page (the server also stops a page at its byte budget). */
export const MAX_SYNC_PAGE = 500;
/**
 * Longest feed cursor, in characters: one position (at most 16 digits) and a separator for
 * each of up to 64 position spaces.
 */
export const MAX_CURSOR_LENGTH = 64 * 17;
/** Default hard cap of one WebSocket frame, in bytes; larger frames close the socket with 1009. */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Most user ids in one presence request. */
export const MAX_PRESENCE_IDS = 100;
/** How long a typing indicator shows without a refresh, in ms. */
export const TYPING_TTL_MS = 6000;
/** Longest client id, in characters. */
export const MAX_CLIENT_ID_LENGTH = 64;
/** Username rule: 3-32 characters of a-z, 0-9, underscore and dot (lower-cased on input). */
export const USERNAME_PATTERN = /^[a-z0-9_.]{3,32}$/;
/** Shortest password, in characters. */
export const MIN_PASSWORD_LENGTH = 8;
/** Longest password, in characters (bounds hashing work). */
export const MAX_PASSWORD_LENGTH = 1024;
/** Longest display name, group name or device name, in code points. */
export const MAX_NAME_LENGTH = 64;
/** A reaction is one emoji: one grapheme cluster of at most this many bytes of UTF-8. */
export const MAX_REACTION_BYTES = 32;
/** Most distinct emoji reacted on one message. */
export const MAX_REACTIONS_PER_MESSAGE = 50;
/** Most pinned messages in one conversation. */
export const MAX_PINS = 50;
/** Most conversations one forward goes to. */
export const MAX_FORWARD_TARGETS = 10;
/** Length of the text snippet of a replied-to message, in code points. */
export const REPLY_SNIPPET_CODE_POINTS = 200;
/** WebSocket subprotocol spoken by this version of the protocol. */
export const PROTOCOL = 'parley.v1';
/** Prefix of the subprotocol entry that carries the session token during the upgrade. */
export const AUTH_PROTOCOL_PREFIX = 'parley.auth.';

/** Number of Unicode code points in a string (not UTF-16 units). */
export function codePointLength(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    // A high surrogate followed by a low one is one code point.
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) i++;
    }
    n++;
  }
  return n;
}
/** Most attachments on one message. */
export const MAX_ATTACHMENTS = 10;
/** Longest voice-note waveform, in bytes (base64 in JSON). */
export const MAX_WAVEFORM_BYTES = 128;
/** Longest duration a client may claim for an attachment: 3 hours, in ms. */
export const MAX_ATTACHMENT_DURATION_MS = 3 * 3600 * 1000;
