/**
 * The app's state and everything that talks to the server: one `ParleyClient` (real time)
 * and its `http` (requests), the local cache, and what the screens show. Screens read it
 * through `useApp()` and call its methods; it notifies them once per task after changes.
 */
import { ParleyClient, ParleyError, ParleyHttp } from '@parley/client';
import type {
  Attachment,
  AttachmentRef,
  ConnectionState,
  ContactList,
  Conversation,
  LinkPreview,
  Member,
  Message,
  MessageAction,
  MessageListPage,
  PendingSend,
  Presence,
  ReceiptCursor,
  User,
  UserSettings,
} from '@parley/client';
import {
  alertCount,
  beep,
  mentions,
  setSoundOn,
  showAlert,
  silenced,
  soundOn,
  unattended,
} from '../lib/alerts.js';
import { attachmentPreview } from '../lib/attachments.js';
import { deviceName } from '../lib/device-name.js';
import { plainText } from '../lib/markup.js';
import {
  disablePush,
  dismissPrompt,
  enablePush,
  forgetPush,
  notificationsAllowed,
  promptDismissed,
  pushState,
} from '../lib/push.js';
import type { PushState } from '../lib/push.js';
import { currentRoute, navigate } from '../lib/route.js';
import type { Route } from '../lib/route.js';
import { LocalCache } from './db.js';
import { MessageSearch } from './search.js';
import { applyToSpan, conversationAfter, isEvent, mergePage, snippetOf } from './events.js';
import { listAfter, pinsAfter } from './message-lists.js';
import type { ListChange, ListKind, MessageList } from './message-lists.js';
import { clearSession, loadSession, saveSession } from './session.js';
import type { StoredSession } from './session.js';

/** A file chosen to send: its bytes and, for voice notes, what the recorder measured. */
export interface OutgoingFile {
  blob: Blob;
  name: string;
  durationMs?: number;
  waveform?: string;
}

/** Files being uploaded for one message: shown as a pending bubble with progress and cancel. */
export interface UploadJob {
  key: string;
  conversationId: string;
  caption: string;
  createdAt: number;
  files: OutgoingFile[];
  /** Bytes the server confirmed, and of all files. */
  sent: number;
  total: number;
  controller: AbortController;
}

/** Messages fetched per history page when scrolling up (the server's maximum). */
export const HISTORY_PAGE = 200;
/** Messages fetched when a conversation opens with nothing cached. */
const FIRST_PAGE = 60;
/** A cached window further than this behind the conversation's head is dropped, not filled. */
const MAX_FILL = 600;

/**
 * The loaded part of one conversation's history: content messages, oldest first, with every
 * message (events included) from the first one up to `top` folded in.
 */
export interface MessageWindow {
  messages: Message[];
  /** Highest seq known here (events included): a feed message beyond top + 1 means a gap. */
  top: number;
  /** Older messages exist on the server (scrolling up loads them). */
  hasOlder: boolean;
  loadingOlder: boolean;
  /** The window has been reconciled with the server since the page loaded. */
  fresh: boolean;
  /** Bumped on every change, so screens can memoise on it. */
  rev: number;
}

/** Connection shown to the user: the SDK's state, or 'offline' when the browser says so. */
export type Connection = ConnectionState | 'offline';

/** What the composer of a conversation is doing besides writing a new message. */
export interface ComposeMode {
  kind: 'reply' | 'edit';
  seq: number;
}

/** A message to bring into view and highlight (`n` changes on every request). */
export interface Focus {
  conversationId: string;
  seq: number;
  n: number;
}

export interface Toast {
  id: number;
  text: string;
}

type Listener = () => void;

function errorText(err: unknown): string {
  if (err instanceof ParleyError) {
    switch (err.code) {
      case 'not_found':
        return 'Not found. Check the username and try again.';
      case 'unavailable':
        return "Can't reach the server. Check your connection.";
      case 'blocked':
        return 'You cannot message this user.';
      default:
        return err.message;
    }
  }
  return err instanceof Error ? err.message : String(err);
}

export { errorText };

export class AppStore {
  session: StoredSession | null = null;
  /** Set while the session is being restored from storage (first paint shows a splash). */
  booting = true;
  /** Why the user was logged out, shown on the login screen. */
  loggedOutReason: string | null = null;
  connection: Connection = 'idle';
  route: Route = currentRoute();
  conversations = new Map<string, Conversation>();
  /** Conversations have been loaded (from the cache or the server) at least once. */
  conversationsLoaded = false;
  windows = new Map<string, MessageWindow>();
  /** Sends waiting for the server, by clientId. */
  pending = new Map<string, PendingSend>();
  /** Messages whose files are being uploaded, by key (sent once all are up). */
  uploads = new Map<string, UploadJob>();
  /** What the server made of the files of my sends, by clientId, until they are stored. */
  sentAttachments = new Map<string, Attachment[]>();
  presence = new Map<string, Presence>();
  typing = new Map<string, string[]>();
  members = new Map<string, Member[]>();
  /** Names of users met in members lists, contacts and 1:1 conversations. */
  users = new Map<string, User>();
  contacts: ContactList | null = null;
  /** Unsent text per conversation, kept on this device (IndexedDB) across reloads. */
  drafts = new Map<string, string>();
  /** Why the server refused the last message sent in a conversation (its composer shows it). */
  sendErrors = new Map<string, string>();
  toasts: Toast[] = [];
  /** Push notifications on this device (Web Push through the service worker). */
  push: PushState = pushState();
  /** The "turn on notifications" prompt in the chat list was dismissed. */
  pushPromptDismissed = promptDismissed();
  /** Play a sound for messages that arrive while the app is not looked at (this browser). */
  sound = soundOn();
  /** My settings, loaded with the settings panel. */
  settings: UserSettings | null = null;
  /** The tab is visible (messages shown count as read only then). */
  visible = document.visibilityState === 'visible';
  /** Replying to or editing a message, per conversation. */
  compose = new Map<string, ComposeMode>();
  focus: Focus | null = null;
  /** Pinned messages of the chats opened, most recently pinned first. */
  pinned = new Map<string, Message[]>();
  /** The Saved and Mentions views, once opened. */
  lists = new Map<ListKind, MessageList>();
  /** Message search, shown in the sidebar. */
  readonly search = new MessageSearch(
    () => this.client?.http ?? null,
    () => this.changed(),
    errorText,
  );
  /** Bumped on every change. */
  rev = 0;

  client: ParleyClient | null = null;
  #cache: LocalCache | null = null;
  #listeners = new Set<Listener>();
  #scheduled = false;
  #unsubscribe: Array<() => void> = [];
  #toastId = 0;
  /** Highest seq on screen per conversation, reported by the message list. */
  #seen = new Map<string, number>();
  #reconciling = new Map<string, Promise<void>>();
  /** Feed messages that arrived while a conversation's history page was on its way. */
  #inflight = new Map<string, Message[]>();
  #loadingWindow = new Map<string, Promise<void>>();
  /** Seqs of messages that mention me, per conversation, heard of since the app started. */
  #mentionSeqs = new Map<string, number[]>();
  /** When the last alert sound played. */
  #beepedAt = -Infinity;

  constructor() {
    window.addEventListener('hashchange', () => {
      this.route = currentRoute();
      this.changed();
      const { chat, message } = this.route;
      if (chat !== null && message !== null) void this.jumpTo(chat, message);
      else if (chat !== null) void this.openConversation(chat);
    });
    document.addEventListener('visibilitychange', () => {
      this.visible = document.visibilityState === 'visible';
      // The server pushes to this device only while it is not in use.
      this.client?.setForeground(this.visible);
      if (!this.visible) void this.#cache?.flush();
      this.changed();
      this.#markSeen();
    });
    window.addEventListener('pagehide', () => void this.#cache?.flush());
    // Someone is using the app (the SDK throttles what it tells the server).
    for (const type of ['keydown', 'pointerdown', 'wheel', 'touchstart'] as const) {
      window.addEventListener(type, () => this.client?.activity(), { passive: true, capture: true });
    }
    window.addEventListener('online', () => this.#online());
    window.addEventListener('offline', () => this.#offline());
    // Another tab logged out, or in as someone else.
    window.addEventListener('storage', (e) => {
      if (e.key !== null && e.key !== 'parley.session') return;
      const next = loadSession();
      if (next?.token !== this.session?.token) location.reload();
    });
  }

  // ---- subscription ----

  subscribe(fn: Listener): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Something changed: notify once, after the current task (events come in bursts). */
  changed(): void {
    this.rev++;
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      for (const fn of this.#listeners) fn();
    });
  }

  toast(text: string): void {
    const id = ++this.#toastId;
    this.toasts = [...this.toasts, { id, text }];
    this.changed();
    setTimeout(() => {
      this.toasts = this.toasts.filter((t) => t.id !== id);
      this.changed();
    }, 5000);
  }

  get me(): User | null {
    return this.session?.user ?? null;
  }

  // ---- session ----

  async boot(): Promise<void> {
    const session = loadSession();
    if (session !== null) await this.#start(session);
    this.booting = false;
    this.changed();
  }

  async signup(username: string, password: string, displayName: string): Promise<void> {
    const http = new ParleyHttp({ baseUrl: location.origin });
    await http.signup(
      displayName.trim() === '' ? { username, password } : { username, password, displayName },
    );
    await this.login(username, password);
  }

  async login(username: string, password: string): Promise<void> {
    const http = new ParleyHttp({ baseUrl: location.origin });
    const s = await http.login({ username, password, deviceName: deviceName() });
    const session: StoredSession = { token: s.token, user: s.user, deviceId: s.device.id };
    saveSession(session);
    this.loggedOutReason = null;
    await this.#start(session);
    navigate({ chat: null, info: false, panel: null }, { replace: true });
  }

  /** Log this device out (the server forgets the token) and forget everything local. */
  async logout(reason: string | null = null): Promise<void> {
    const client = this.client;
    if (client !== null && reason === null) {
      try {
        await client.http.logout();
      } catch {
        // Already logged out, or offline: the local state goes anyway.
      }
    }
    const userId = this.session?.user.id;
    // The server removed this device's subscriptions; the browser's goes too.
    await forgetPush().catch(() => undefined);
    this.push = pushState();
    this.#stop();
    clearSession();
    if (userId !== undefined) await LocalCache.destroy(userId);
    this.loggedOutReason = reason;
    this.changed();
  }

  async #start(session: StoredSession): Promise<void> {
    this.#stop();
    this.session = session;
    const cache = await LocalCache.open(session.user.id);
    this.#cache = cache;
    const [cached, cursor, drafts] = await Promise.all([
      cache.conversations(),
      cache.cursor(),
      cache.drafts(),
    ]);
    for (const c of cached) this.#putConversation(c, false);
    for (const [id, text] of drafts) if (!this.drafts.has(id)) this.drafts.set(id, text);
    if (cached.length > 0) this.conversationsLoaded = true;

    const client = new ParleyClient({
      url: location.origin,
      token: session.token,
      since: cursor,
      outboxStorage: cache.outbox,
    });
    this.client = client;
    client.setForeground(document.visibilityState === 'visible');
    this.#wire(client);
    this.changed();
    // Connect even when offline: the SDK loads the stored outbox first (unsent messages show),
    // and its retries find the network when it comes back.
    client.connect();
    if (!navigator.onLine) this.connection = 'offline';
    void this.#refreshConversations();
    void this.#refreshMe();
    // Whether notifications the app shows itself may carry message text.
    void this.loadSettings();
    void this.refreshContacts();
    const { chat, message } = this.route;
    if (chat !== null && message !== null) void this.jumpTo(chat, message);
    else if (chat !== null) void this.openConversation(chat);
    // Permission was given before: keep this device's subscription registered (it may be new,
    // or the server may have dropped it). Never asks anything on load.
    this.push = pushState();
    if (this.push === 'on') void this.#enablePush(client, false);
  }

  #stop(): void {
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    this.client?.close();
    this.client = null;
    this.search.clear();
    this.#cache?.close();
    this.#cache = null;
    this.session = null;
    this.connection = 'idle';
    this.conversations = new Map();
    this.conversationsLoaded = false;
    this.windows = new Map();
    this.pending = new Map();
    this.presence = new Map();
    this.typing = new Map();
    this.members = new Map();
    this.users = new Map();
    this.contacts = null;
    this.drafts = new Map();
    this.sendErrors = new Map();
    this.compose = new Map();
    this.focus = null;
    this.pinned = new Map();
    this.lists = new Map();
    this.#seen = new Map();
    this.#mentionSeqs = new Map();
  }

  #online(): void {
    if (this.client === null) return;
    this.connection = this.client.state;
    // From 'closed' (we closed it going offline) or 'reconnecting' (skip the backoff wait).
    this.client.connect();
    this.changed();
  }

  #offline(): void {
    if (this.client === null) return;
    // The socket may take a heartbeat timeout to notice; pending sends stay in the outbox.
    this.client.close();
    this.connection = 'offline';
    this.changed();
  }

  async #refreshMe(): Promise<void> {
    const client = this.client;
    if (client === null) return;
    try {
      const user = await client.http.me();
      if (this.client !== client || this.session === null) return;
      this.session = { ...this.session, user };
      saveSession(this.session);
      this.changed();
    } catch (err) {
      this.#authFailure(err);
    }
  }

  #authFailure(err: unknown): boolean {
    if (err instanceof ParleyError && (err.code === 'unauthorized' || err.code === 'device_revoked')) {
      void this.logout('This device was logged out. Log in again to continue.');
      return true;
    }
    return false;
  }

  // ---- real-time events ----

  #wire(client: ParleyClient): void {
    const on = this.#unsubscribe;
    on.push(
      client.on('state', (state) => {
        this.connection = navigator.onLine ? state : 'offline';
        this.changed();
      }),
      client.on('message', (m) => this.#onMessage(m)),
      client.on('ack', (ack) => {
        const p = this.pending.get(ack.clientId);
        this.pending.delete(ack.clientId);
        const me = this.me;
        // An action's event comes back in the feed; a send shows at once as what it stored.
        if (p !== undefined && me !== null && p.action === undefined) {
          const { duplicate: _d, clientId, conversationId, ...rest } = ack;
          const m: Message = {
            ...rest,
            clientId,
            conversationId,
            senderId: me.id,
            kind: 'text',
            text: p.text,
          };
          const attachments = this.sentAttachments.get(clientId);
          if (attachments !== undefined)
            (m as Message & { attachments?: Attachment[] }).attachments = attachments;
          this.sentAttachments.delete(clientId);
          const quoted = p.replyTo === undefined ? undefined : this.message(conversationId, p.replyTo);
          if (quoted !== undefined) m.replyTo = snippetOf(quoted);
          this.#onMessage(m);
        }
        this.changed();
      }),
      client.on('outbox', () => {
        this.pending = new Map(client.pendingSends().map((p) => [p.clientId, p]));
        this.changed();
      }),
      client.on('synced', ({ cursor }) => {
        this.#cache?.setCursor(cursor);
        void this.#refreshConversations();
        const active = this.route.chat;
        if (active !== null) void this.#reconcile(active);
        if (this.contacts !== null) void this.refreshContacts();
      }),
      client.on('read', (r) => {
        const c = this.conversations.get(r.conversationId);
        if (c === undefined) return;
        if (r.userId === this.me?.id) {
          if (r.seq > c.readSeq) this.#setRead(c, r.seq);
        } else {
          this.#receipts(r.conversationId, [{ userId: r.userId, readSeq: r.seq, deliveredSeq: r.seq }]);
        }
      }),
      client.on('receipts', (r) => this.#receipts(r.conversationId, r.cursors)),
      client.on('conversation', (c) => {
        this.#conversationFrames.set(c.id, ++this.#frameCount);
        this.#putConversation(c, true);
        this.members.delete(c.id);
        if (this.route.chat === c.id && c.left === undefined) void this.loadMembers(c.id);
        this.changed();
      }),
      client.on('conversation_removed', ({ conversationId }) => this.#removeConversation(conversationId)),
      client.on('presence', (p) => {
        if (this.isBlocked(p.userId)) return;
        this.presence.set(p.userId, p);
        this.changed();
      }),
      client.on('typing', ({ conversationId, userIds }) => {
        if (userIds.length === 0) this.typing.delete(conversationId);
        else this.typing.set(conversationId, userIds);
        this.changed();
      }),
      client.on('contact', ({ user }) => {
        this.users.set(user.id, user);
        void this.refreshContacts();
      }),
      client.on('user', (user) => this.#renamed(user)),
      client.on('error', (e) => {
        if (e.code === 'unauthorized' || e.code === 'device_revoked') {
          void this.logout('This device was logged out. Log in again to continue.');
        }
      }),
    );
    this.pending = new Map(client.pendingSends().map((p) => [p.clientId, p]));
  }

  #onMessage(m: Message): void {
    const me = this.me;
    if (me === null) return;
    this.#cache?.feed(m);
    this.#inflight.get(m.conversationId)?.push(m);
    const event = isEvent(m);
    if (event) this.search.apply(m);
    const w = this.windows.get(m.conversationId);
    if (w !== undefined) {
      const hadLast = w.messages[w.messages.length - 1]?.seq;
      const { span, gap } = applyToSpan(w, m);
      if (gap) {
        void this.#reconcile(m.conversationId);
      } else if (!event && hadLast === undefined && !w.fresh) {
        // Into an empty window that was not loaded yet: a reconcile in flight may have read
        // its page before this message was stored, and merges what follows the page; older
        // messages load as the user scrolls up.
        w.hasOlder = m.seq > 1;
      }
      if (span.messages !== w.messages || span.top !== w.top) {
        w.messages = span.messages;
        w.top = span.top;
        w.rev++;
      }
    }
    const c = this.conversations.get(m.conversationId);
    if (c === undefined) {
      // A conversation we have not heard of yet (its `conversation` frame may follow).
      void this.#fetchConversation(m.conversationId);
    } else if (event || m.seq > c.lastSeq || c.lastMessage === null) {
      // Hiding the message shown in the list: the one before it, when loaded.
      const before = w?.messages.filter((x) => x.seq < (m.target ?? 0)).pop() ?? null;
      const { conversation, counts } = conversationAfter(c, m, me.id, before);
      let next = conversation;
      if (!event) {
        // The list names a group's last sender: known here, or asked of the server.
        const { lastSender: _previous, ...rest } = next;
        const sender = c.kind === 'group' ? this.users.get(m.senderId) : undefined;
        if (c.kind === 'group' && sender === undefined) void this.#fetchConversation(c.id);
        next = { ...rest, ...(sender !== undefined ? { lastSender: sender } : {}) };
      } else if (m.kind === 'hide' && c.lastMessage?.seq === m.target && before === null) {
        // The previous message is not loaded: the server knows it.
        void this.#fetchConversation(c.id);
      }
      this.#putConversation(next, true);
      if (counts) {
        if (mentions(m, me.id)) this.#mentionSeqs.set(c.id, [...(this.#mentionSeqs.get(c.id) ?? []), m.seq]);
        this.#alert(m, next);
      }
    }
    if (!event && m.senderId !== me.id) {
      // Their message ends their typing.
      const typing = this.typing.get(m.conversationId);
      if (typing?.includes(m.senderId) === true) {
        const rest = typing.filter((u) => u !== m.senderId);
        if (rest.length === 0) this.typing.delete(m.conversationId);
        else this.typing.set(m.conversationId, rest);
      }
    }
    this.#updateLists(m, me.id);
    this.changed();
    this.#markSeen();
  }

  /** Keep the pinned messages and the Saved and Mentions views current with the feed. */
  #updateLists(m: Message, me: string): void {
    const pins = this.pinned.get(m.conversationId);
    if (pins !== undefined)
      this.#applyChange(
        pinsAfter(pins, m),
        (next) => this.pinned.set(m.conversationId, next),
        () => void this.loadPins(m.conversationId),
      );
    for (const [kind, list] of this.lists) {
      this.#applyChange(
        listAfter(kind, list.messages, m, me),
        (next) => this.lists.set(kind, { ...list, messages: next }),
        () => void this.loadList(kind),
      );
    }
  }

  #applyChange(change: ListChange, set: (next: Message[]) => void, reload: () => void): void {
    if (change === 'reload') reload();
    else if (change !== null) set(change);
  }

  /** A loaded content message of a conversation. */
  message(conversationId: string, seq: number): Message | undefined {
    return this.windows.get(conversationId)?.messages.find((m) => m.seq === seq);
  }

  /** Unread messages that mention me in a conversation (of those heard of since the app started). */
  unreadMentions(conversationId: string): number {
    const c = this.conversations.get(conversationId);
    const seqs = this.#mentionSeqs.get(conversationId);
    return c === undefined || seqs === undefined ? 0 : seqs.filter((seq) => seq > c.readSeq).length;
  }

  /**
   * Unread messages for the title and the app badge: muted conversations count only mentions,
   * and not even those when their mentions are muted too.
   */
  get alertCount(): number {
    return alertCount(this.conversations.values(), (id) => this.unreadMentions(id));
  }

  /**
   * A message from someone else arrived: while nobody looks at the app, a sound and a system
   * notification, unless the conversation is muted and the message does not mention me (or
   * the mute covers mentions too).
   */
  #alert(m: Message, c: Conversation): void {
    const me = this.me;
    if (me === null || !unattended() || silenced(c, mentions(m, me.id))) return;
    // A backlog arriving at once (after a reconnect) sounds once.
    const now = performance.now();
    if (this.sound && now - this.#beepedAt > 2000) {
      this.#beepedAt = now;
      beep();
    }
    if (!notificationsAllowed()) return;
    const senderName = this.users.get(m.senderId)?.displayName ?? (c.kind === 'direct' ? c.name : 'Someone');
    void showAlert({
      conversationId: c.id,
      kind: c.kind,
      conversationName: c.kind === 'group' ? c.name : senderName,
      senderName,
      text:
        this.settings?.pushPreview === false
          ? undefined
          : (attachmentPreview(m, plainText(m.text)) ?? plainText(m.text)),
      seq: m.seq,
      unread: c.unread,
      createdAt: m.createdAt,
    }).catch(() => undefined);
  }

  /** Turn the alert sound on or off in this browser. */
  setSound(on: boolean): void {
    setSoundOn(on);
    this.sound = on;
    this.changed();
  }

  #receipts(conversationId: string, cursors: ReceiptCursor[]): void {
    const c = this.conversations.get(conversationId);
    if (c === undefined) return;
    const me = this.me?.id;
    if (c.kind === 'direct' && c.peer !== undefined) {
      for (const cur of cursors) {
        if (cur.userId !== c.peer.id || cur.userId === me) continue;
        this.#putConversation(
          {
            ...c,
            peerDeliveredSeq: Math.max(c.peerDeliveredSeq ?? 0, cur.deliveredSeq, cur.readSeq),
            peerReadSeq: Math.max(c.peerReadSeq ?? 0, cur.readSeq),
          },
          true,
        );
      }
    }
    const members = this.members.get(conversationId);
    if (members !== undefined) {
      this.members.set(
        conversationId,
        members.map((m) => {
          const cur = cursors.find((x) => x.userId === m.userId);
          if (cur === undefined) return m;
          return {
            ...m,
            readSeq: Math.max(m.readSeq, cur.readSeq),
            deliveredSeq: Math.max(m.deliveredSeq, cur.deliveredSeq, cur.readSeq),
          };
        }),
      );
    }
    this.changed();
  }

  #putConversation(c: Conversation, persist: boolean): void {
    const old = this.conversations.get(c.id);
    // Cursors only move forward, whichever of the server's answers and the live frames is newer.
    const next: Conversation =
      old === undefined
        ? c
        : {
            ...c,
            readSeq: Math.max(c.readSeq, old.lastSeq <= c.lastSeq ? old.readSeq : 0),
            peerDeliveredSeq: Math.max(c.peerDeliveredSeq ?? 0, old.peerDeliveredSeq ?? 0),
            peerReadSeq: Math.max(c.peerReadSeq ?? 0, old.peerReadSeq ?? 0),
          };
    if (next.readSeq >= next.lastSeq) next.unread = 0;
    this.conversations.set(c.id, next);
    // The server's name is current; a cached one only fills a gap.
    if (c.lastSender !== undefined && (persist || !this.users.has(c.lastSender.id))) {
      this.users.set(c.lastSender.id, c.lastSender);
    }
    if (c.peer !== undefined) {
      this.users.set(c.peer.id, c.peer);
      // A new 1:1 partner: the server only pushes changes, so ask once for the current state.
      if (c.kind === 'direct' && !this.presence.has(c.peer.id)) this.#wantPresence(c.peer.id);
    }
    if (persist) this.#cache?.putConversation(next);
  }

  /** A user changed their name: show the new one wherever theirs shows. */
  #renamed(user: User): void {
    this.users.set(user.id, user);
    if (this.session !== null && this.session.user.id === user.id) {
      this.session = { ...this.session, user };
      saveSession(this.session);
    }
    for (const c of this.conversations.values()) {
      const peer = c.peer?.id === user.id;
      const sender = c.lastSender?.id === user.id;
      const remover = c.left?.by?.id === user.id;
      if (!peer && !sender && !remover) continue;
      const next: Conversation = { ...c };
      if (peer) {
        next.peer = user;
        next.name = user.displayName;
      }
      if (sender) next.lastSender = user;
      if (remover && c.left !== undefined) next.left = { ...c.left, by: user };
      this.#putConversation(next, true);
    }
    for (const [id, members] of this.members) {
      if (members.some((m) => m.userId === user.id)) {
        this.members.set(
          id,
          members.map((m) => (m.userId === user.id ? { ...m, displayName: user.displayName } : m)),
        );
      }
    }
    const contacts = this.contacts;
    if (contacts !== null) {
      const swap = (u: User) => (u.id === user.id ? user : u);
      this.contacts = {
        contacts: contacts.contacts.map((x) => (x.user.id === user.id ? { ...x, user } : x)),
        incoming: contacts.incoming.map(swap),
        outgoing: contacts.outgoing.map(swap),
        blocked: contacts.blocked.map(swap),
      };
    }
    this.changed();
  }

  #removeConversation(id: string): void {
    this.conversations.delete(id);
    this.windows.delete(id);
    this.members.delete(id);
    this.#cache?.deleteConversation(id);
    if (this.route.chat === id) navigate({ chat: null, info: false }, { replace: true });
    this.changed();
  }

  /** Counts `conversation` frames; the count at each conversation's latest one. */
  #frameCount = 0;
  #conversationFrames = new Map<string, number>();

  async #fetchConversation(id: string): Promise<Conversation | undefined> {
    const client = this.client;
    if (client === null) return undefined;
    const asked = this.#frameCount;
    try {
      const c = await client.http.conversation(id);
      if (this.client !== client) return undefined;
      // A `conversation` frame that came while this answer was on its way is newer (a mute or
      // rename from another device): the answer must not undo it.
      if ((this.#conversationFrames.get(id) ?? 0) > asked) return this.conversations.get(id) ?? c;
      this.#putConversation(c, true);
      this.changed();
      return c;
    } catch (err) {
      if (err instanceof ParleyError && err.code === 'not_found') this.#removeConversation(id);
      return undefined;
    }
  }

  async #refreshConversations(): Promise<void> {
    const client = this.client;
    if (client === null) return;
    // A conversation that arrives live while the list is on its way is newer than the list:
    // only those known before the request can be gone, and a live frame's last message wins.
    const known = new Set(this.conversations.keys());
    try {
      const { conversations } = await client.http.conversations({ limit: 500 });
      if (this.client !== client) return;
      const ids = new Set(conversations.map((c) => c.id));
      for (const id of known) {
        if (!ids.has(id) && this.conversations.has(id)) this.#removeConversation(id);
      }
      for (const c of conversations) {
        if ((this.conversations.get(c.id)?.lastSeq ?? -1) > c.lastSeq) continue;
        this.#putConversation(c, true);
      }
      this.conversationsLoaded = true;
      this.changed();
      this.#markSeen();
      const peers = conversations.flatMap((c) => (c.kind === 'direct' && c.peer ? [c.peer.id] : []));
      void this.refreshPresence(peers);
    } catch (err) {
      this.#authFailure(err);
    }
  }

  #presenceWanted = new Set<string>();
  #presenceTimer: ReturnType<typeof setTimeout> | undefined;

  /** Fetch the presence of a user soon, batched with others. */
  #wantPresence(userId: string): void {
    if (userId === this.me?.id) return;
    this.#presenceWanted.add(userId);
    if (this.#presenceTimer !== undefined) return;
    this.#presenceTimer = setTimeout(() => {
      this.#presenceTimer = undefined;
      const ids = [...this.#presenceWanted];
      this.#presenceWanted.clear();
      void this.refreshPresence(ids);
    }, 50);
  }

  /** Ask for the presence of users (at most 100 per request). */
  async refreshPresence(userIds: string[]): Promise<void> {
    const client = this.client;
    const me = this.me?.id;
    const ids = [...new Set(userIds)].filter((id) => id !== me);
    if (client === null || ids.length === 0) return;
    for (let i = 0; i < ids.length; i += 100) {
      try {
        const batch = ids.slice(i, i + 100);
        const { presence } = await client.http.presence(batch);
        for (const p of presence) if (!this.isBlocked(p.userId)) this.presence.set(p.userId, p);
        // Left out: they show me nothing (now), so no older state of theirs stays on screen.
        const shown = new Set(presence.map((p) => p.userId));
        for (const id of batch) {
          if (!shown.has(id)) this.presence.set(id, { userId: id, online: false, lastActiveAt: null });
        }
        this.changed();
      } catch {
        return;
      }
    }
  }

  // ---- conversations and history ----

  /** Show a conversation: cached messages at once, then what the server has beyond them. */
  async openConversation(id: string): Promise<void> {
    if (this.client === null) return;
    if (!this.conversations.has(id)) await this.#fetchConversation(id);
    if (!this.windows.has(id)) {
      let loading = this.#loadingWindow.get(id);
      if (loading === undefined) {
        loading = this.#loadWindow(id);
        this.#loadingWindow.set(id, loading);
      }
      await loading;
    }
    const c = this.conversations.get(id);
    // A group I left has no members to show me.
    if (c !== undefined && c.left === undefined && !this.members.has(id)) void this.loadMembers(id);
    await this.#reconcile(id);
  }

  async #loadWindow(id: string): Promise<void> {
    const cached = await this.#cache?.messages(id);
    if (!this.windows.has(id)) {
      const messages = cached?.messages ?? [];
      this.windows.set(id, {
        messages,
        top: messages.length > 0 ? (cached?.top ?? 0) : 0,
        hasOlder: (messages[0]?.seq ?? 1) > 1,
        loadingOlder: false,
        fresh: false,
        rev: 0,
      });
      this.changed();
    }
    this.#loadingWindow.delete(id);
  }

  /** Bring a window up to the server's head: fill a small gap, or start over from the latest page. */
  #reconcile(id: string): Promise<void> {
    let run = this.#reconciling.get(id);
    if (run !== undefined) return run;
    run = this.#doReconcile(id).finally(() => {
      this.#reconciling.delete(id);
      this.#inflight.delete(id);
    });
    this.#reconciling.set(id, run);
    return run;
  }

  async #doReconcile(id: string): Promise<void> {
    const client = this.client;
    const w = this.windows.get(id);
    if (client === null || w === undefined) return;
    // History holds content only, folded: seqs missing from a page are events (or messages
    // hidden from me), and the feed messages that arrive meanwhile are applied again after it.
    const later: Message[] = [];
    this.#inflight.set(id, later);
    try {
      const c = this.conversations.get(id);
      const last = w.messages[w.messages.length - 1];
      if (last === undefined || (c !== undefined && c.lastSeq - w.top > MAX_FILL)) {
        const page = await client.http.history(id, { limit: FIRST_PAGE });
        const cur = this.windows.get(id);
        if (cur === undefined) return;
        const messages = mergePage([], page.messages, later);
        const top = Math.max(
          messages[messages.length - 1]?.seq ?? 0,
          this.conversations.get(id)?.lastSeq ?? 0,
          ...later.map((m) => m.seq),
        );
        this.windows.set(id, {
          messages,
          top,
          hasOlder: page.hasMore,
          loadingOlder: false,
          fresh: true,
          rev: cur.rev + 1,
        });
        this.#cache?.reset(id);
        this.#cache?.page(id, 0, messages, top);
      } else {
        let after = last.seq;
        for (;;) {
          const from = after;
          const page = await client.http.history(id, { after, limit: HISTORY_PAGE });
          const cur = this.windows.get(id);
          if (cur === undefined) return;
          cur.messages = mergePage(cur.messages, page.messages, later);
          const end = page.messages[page.messages.length - 1]?.seq ?? after;
          cur.top = Math.max(cur.top, end);
          cur.rev++;
          after = end;
          if (!page.hasMore || page.messages.length === 0) {
            // Complete up to the head the list knows of, and up to what came meanwhile.
            cur.top = Math.max(cur.top, this.conversations.get(id)?.lastSeq ?? 0, ...later.map((m) => m.seq));
            this.#cache?.page(id, from, page.messages, cur.top);
            break;
          }
          this.#cache?.page(id, from, page.messages, end);
        }
        const cur = this.windows.get(id);
        if (cur !== undefined) cur.fresh = true;
      }
      this.changed();
      this.#markSeen();
    } catch (err) {
      if (this.#authFailure(err)) return;
      if (err instanceof ParleyError && (err.code === 'not_found' || err.code === 'forbidden')) {
        this.#removeConversation(id);
      }
    }
  }

  /** Load the page before the oldest loaded message (scrolling up). */
  loadOlder(id: string): Promise<void> {
    let run = this.#loadingOlder.get(id);
    if (run === undefined) {
      run = this.#loadOlder(id).finally(() => this.#loadingOlder.delete(id));
      this.#loadingOlder.set(id, run);
    }
    return run;
  }

  #loadingOlder = new Map<string, Promise<void>>();

  async #loadOlder(id: string): Promise<void> {
    const client = this.client;
    const w = this.windows.get(id);
    const first = w?.messages[0];
    if (client === null || w === undefined || first === undefined || !w.hasOlder || w.loadingOlder) return;
    w.loadingOlder = true;
    w.rev++;
    this.changed();
    try {
      const page = await client.http.history(id, { before: first.seq, limit: HISTORY_PAGE });
      const cur = this.windows.get(id);
      if (cur !== w) return;
      const older = page.messages.filter((m) => m.seq < first.seq);
      w.messages = older.concat(w.messages);
      w.hasOlder = page.hasMore;
    } catch (err) {
      this.#authFailure(err);
    } finally {
      w.loadingOlder = false;
      w.rev++;
      this.changed();
    }
  }

  async loadMembers(id: string): Promise<Member[] | undefined> {
    const client = this.client;
    if (client === null) return undefined;
    try {
      const { members } = await client.http.members(id);
      if (this.client !== client) return undefined;
      this.members.set(id, members);
      for (const m of members) {
        if (!this.users.has(m.userId)) {
          this.users.set(m.userId, { id: m.userId, username: m.username, displayName: m.displayName });
        }
      }
      this.changed();
      return members;
    } catch (err) {
      this.#authFailure(err);
      return undefined;
    }
  }

  // ---- reading ----

  /** The message list shows messages up to `seq` of a conversation. */
  seen(conversationId: string, seq: number): void {
    if ((this.#seen.get(conversationId) ?? 0) >= seq) return;
    this.#seen.set(conversationId, seq);
    this.#markSeen();
  }

  /** The list was left (another conversation opened): forget what it showed. */
  unseen(conversationId: string): void {
    this.#seen.delete(conversationId);
  }

  /** Mark read what the open conversation shows, when the tab is visible. */
  #markSeen(): void {
    const id = this.route.chat;
    const client = this.client;
    if (id === null || client === null || !this.visible) return;
    const c = this.conversations.get(id);
    let seq = this.#seen.get(id) ?? 0;
    // The newest message on screen: the events after it are read with it.
    const w = this.windows.get(id);
    const newest = w?.messages[w.messages.length - 1]?.seq;
    if (w !== undefined && newest !== undefined && seq >= newest) seq = Math.max(seq, w.top);
    seq = Math.min(seq, c?.lastSeq ?? 0);
    if (c === undefined || seq <= c.readSeq) return;
    client.markRead(id, seq);
    this.#setRead(c, seq);
  }

  #setRead(c: Conversation, seq: number): void {
    let unread = 0;
    if (seq < c.lastSeq) {
      const w = this.windows.get(c.id);
      const me = this.me?.id;
      const first = w?.messages[0];
      if (w !== undefined && first !== undefined && first.seq <= seq + 1) {
        unread = w.messages.filter((m) => m.seq > seq && m.senderId !== me).length;
      } else {
        unread = Math.min(c.unread, c.lastSeq - seq);
      }
    }
    this.#putConversation({ ...c, readSeq: seq, unread }, true);
    this.changed();
  }

  // ---- sending ----

  /**
   * Open a conversation at one of its messages: load older history until it is there, then
   * bring it into view, highlighted.
   */
  async jumpTo(id: string, seq: number): Promise<void> {
    if (this.route.chat !== id || this.route.message !== null) {
      navigate({ chat: id, message: null, panel: null }, { replace: this.route.chat === id });
    }
    await this.openConversation(id);
    for (;;) {
      const w = this.windows.get(id);
      if (w === undefined) return;
      const first = w.messages[0]?.seq ?? Infinity;
      if (first <= seq || !w.hasOlder) break;
      await this.loadOlder(id);
      // Nothing older came (an error, or the list was left): stop.
      if ((this.windows.get(id)?.messages[0]?.seq ?? Infinity) >= first) break;
    }
    if (this.message(id, seq) === undefined) {
      this.toast('That message is no longer available.');
      return;
    }
    this.focus = { conversationId: id, seq, n: (this.focus?.n ?? 0) + 1 };
    this.changed();
  }

  setCompose(conversationId: string, mode: ComposeMode | null): void {
    if (mode === null) this.compose.delete(conversationId);
    else this.compose.set(conversationId, mode);
    this.changed();
  }

  /** Act on a message (edit, delete, react, pin, save...): the event comes back in the feed. */
  act(conversationId: string, action: MessageAction): void {
    const client = this.client;
    if (client === null) return;
    client.act(conversationId, action).catch((err: unknown) => {
      if (this.client === client) this.toast(errorText(err));
    });
  }

  /** Forward message `seq` of a conversation to others; a toast says what failed. */
  async forward(conversationId: string, seq: number, to: string[]): Promise<void> {
    const client = this.#need();
    const clientId = crypto.randomUUID();
    const { results } = await client.http.forward(conversationId, { clientId, seq, to });
    const failed = results.filter((r) => !r.ok).length;
    this.toast(
      failed === 0
        ? `Forwarded to ${to.length} chat${to.length === 1 ? '' : 's'}.`
        : `Could not forward to ${failed} chat${failed === 1 ? '' : 's'}.`,
    );
  }

  /** Pinned messages of a conversation, most recently pinned first. */
  async pins(conversationId: string): Promise<Message[]> {
    return (await this.#need().http.pins(conversationId)).messages;
  }

  /** Load (again) the pinned messages of a conversation into `pinned`. */
  async loadPins(conversationId: string): Promise<void> {
    const client = this.client;
    if (client === null) return;
    try {
      const messages = await this.pins(conversationId);
      if (this.client !== client) return;
      this.pinned.set(conversationId, messages);
      this.#knowSenders(conversationId, messages);
      this.changed();
    } catch (err) {
      this.#authFailure(err);
    }
  }

  /** Messages that mention me, or that I saved, newest first. */
  async listed(which: ListKind, before?: string): Promise<MessageListPage> {
    const http = this.#need().http;
    const query = before === undefined ? {} : { before };
    return which === 'mentions' ? http.mentions(query) : http.saved(query);
  }

  /** Load the first page of the Saved or Mentions view, or (`more`) the next one. */
  async loadList(which: ListKind, more = false): Promise<void> {
    const client = this.client;
    const cur = this.lists.get(which);
    if (client === null || (more && (cur === undefined || cur.next === undefined || cur.loading))) return;
    const before = more ? cur?.next : undefined;
    this.lists.set(which, {
      messages: cur?.messages ?? [],
      next: cur?.next,
      loading: true,
      error: null,
    });
    this.changed();
    try {
      const page = await this.listed(which, before);
      if (this.client !== client) return;
      const messages = more ? [...(this.lists.get(which)?.messages ?? []), ...page.messages] : page.messages;
      this.lists.set(which, { messages, next: page.next, loading: false, error: null });
      for (const m of page.messages) this.#knowSenders(m.conversationId, [m]);
    } catch (err) {
      if (this.#authFailure(err) || this.client !== client) return;
      const list = this.lists.get(which);
      this.lists.set(which, {
        messages: list?.messages ?? [],
        next: list?.next,
        loading: false,
        error: errorText(err),
      });
    }
    this.changed();
  }

  /** Senders shown by name: a group's members are loaded once when one of them is not known. */
  #knowSenders(conversationId: string, messages: Message[]): void {
    const c = this.conversations.get(conversationId);
    if (c?.kind !== 'group' || c.left !== undefined || this.members.has(conversationId)) return;
    if (this.#askedMembers.has(conversationId)) return;
    if (messages.some((m) => !this.users.has(m.senderId))) {
      this.#askedMembers.add(conversationId);
      void this.loadMembers(conversationId).finally(() => this.#askedMembers.delete(conversationId));
    }
  }

  #askedMembers = new Set<string>();

  send(conversationId: string, text: string, replyTo?: number, preview = false): void {
    const client = this.client;
    if (client === null) return;
    const sent = client.send(conversationId, text, {
      ...(replyTo !== undefined && { replyTo }),
      ...(preview && { preview: true }),
    });
    this.pending = new Map(client.pendingSends().map((p) => [p.clientId, p]));
    this.sendErrors.delete(conversationId);
    this.changed();
    sent.catch((err: unknown) => {
      if (this.client !== client) return;
      this.pending = new Map(client.pendingSends().map((p) => [p.clientId, p]));
      const why = `Message not sent: ${errorText(err)}`;
      this.sendErrors.set(conversationId, why);
      // The open chat's composer shows it; elsewhere a toast does.
      if (this.route.chat !== conversationId) this.toast(why);
      // Give the text back, unless something new was typed meanwhile.
      if ((this.drafts.get(conversationId) ?? '') === '') this.setDraft(conversationId, text);
      this.changed();
    });
  }

  /** The server's preview of the page at `url`, or null (none, or not signed in). */
  async linkPreview(url: string): Promise<LinkPreview | null> {
    return (await this.client?.http.linkPreview(url)) ?? null;
  }

  /**
   * Upload files (at most 10) and send them as one message with `caption`; the pending bubble
   * shows the progress until every file is up, then the message goes through the outbox.
   */
  sendFiles(conversationId: string, files: OutgoingFile[], caption: string, replyTo?: number): void {
    const client = this.client;
    if (client === null || files.length === 0) return;
    const key = `u${Date.now().toString(36)}${Math.random().toString(36).slice(2, 12)}`;
    const job: UploadJob = {
      key,
      conversationId,
      caption,
      createdAt: Date.now(),
      files,
      sent: 0,
      total: files.reduce((n, f) => n + f.blob.size, 0),
      controller: new AbortController(),
    };
    this.uploads = new Map(this.uploads).set(key, job);
    this.sendErrors.delete(conversationId);
    this.changed();
    void (async () => {
      const done: Attachment[] = [];
      let before = 0;
      try {
        for (const f of files) {
          const a = await client.http.upload(f.blob, {
            name: f.name,
            type: f.blob.type,
            signal: job.controller.signal,
            onProgress: (sent) => {
              job.sent = before + sent;
              this.changed();
            },
          });
          before += f.blob.size;
          done.push(f.waveform === undefined ? a : { ...a, waveform: f.waveform });
        }
      } catch (err) {
        this.#endUpload(key);
        if (job.controller.signal.aborted || this.client !== client) return;
        const why = `Not sent: ${errorText(err)}`;
        this.sendErrors.set(conversationId, why);
        if (this.route.chat !== conversationId) this.toast(why);
        this.changed();
        return;
      }
      this.#endUpload(key);
      if (this.client !== client) return;
      const refs: AttachmentRef[] = done.map((a, i) => {
        const f = files[i];
        const ref: AttachmentRef = { uploadId: a.id };
        if (f?.durationMs !== undefined) ref.durationMs = Math.round(f.durationMs);
        if (f?.waveform !== undefined) ref.waveform = f.waveform;
        return ref;
      });
      // The job's key is random enough to be the message's idempotency key.
      const clientId = key;
      this.sentAttachments.set(clientId, done);
      const sent = client.send(conversationId, caption, {
        clientId,
        attachments: refs,
        ...(replyTo === undefined ? {} : { replyTo }),
      });
      this.pending = new Map(client.pendingSends().map((p) => [p.clientId, p]));
      this.changed();
      sent.catch((err: unknown) => {
        this.sentAttachments.delete(clientId);
        if (this.client !== client) return;
        this.pending = new Map(client.pendingSends().map((p) => [p.clientId, p]));
        const why = `Message not sent: ${errorText(err)}`;
        this.sendErrors.set(conversationId, why);
        if (this.route.chat !== conversationId) this.toast(why);
        this.changed();
      });
    })();
  }

  /** Stop uploading the files of a message: nothing is sent. */
  cancelUpload(key: string): void {
    const job = this.uploads.get(key);
    if (job === undefined) return;
    job.controller.abort(new ParleyError('unavailable', 'Cancelled'));
    this.#endUpload(key);
  }

  #endUpload(key: string): void {
    if (!this.uploads.has(key)) return;
    const next = new Map(this.uploads);
    next.delete(key);
    this.uploads = next;
    this.changed();
  }

  /** The refused send's error was read (the text is being edited). */
  clearSendError(conversationId: string): void {
    if (this.sendErrors.delete(conversationId)) this.changed();
  }

  sendTyping(conversationId: string): void {
    this.client?.typing(conversationId);
  }

  setDraft(conversationId: string, text: string): void {
    if ((this.drafts.get(conversationId) ?? '') === text) return;
    if (text === '') this.drafts.delete(conversationId);
    else this.drafts.set(conversationId, text);
    this.#cache?.setDraft(conversationId, text);
  }

  // ---- conversations: create and manage ----

  async startDirect(username: string): Promise<Conversation> {
    const client = this.#need();
    const c = await client.http.direct({ username: username.trim().toLowerCase() });
    this.#putConversation(c, true);
    this.changed();
    return c;
  }

  async createGroup(name: string, usernames: string[]): Promise<Conversation> {
    const client = this.#need();
    const c = await client.http.createGroup({ name: name.trim(), members: usernames });
    this.#putConversation(c, true);
    this.changed();
    return c;
  }

  async addMembers(id: string, usernames: string[]): Promise<void> {
    const client = this.#need();
    const { members } = await client.http.addMembers(id, usernames);
    this.members.set(id, members);
    await this.#fetchConversation(id);
  }

  async removeMember(id: string, userId: string): Promise<void> {
    const client = this.#need();
    await client.http.removeMember(id, userId);
    await this.loadMembers(id);
    await this.#fetchConversation(id);
  }

  async promote(id: string, userId: string): Promise<void> {
    const client = this.#need();
    const { members } = await client.http.promote(id, userId);
    this.members.set(id, members);
    this.changed();
  }

  async rename(id: string, name: string): Promise<void> {
    const client = this.#need();
    const c = await client.http.rename(id, name.trim());
    this.#putConversation(c, true);
    this.changed();
  }

  /** Leave a group: it stays in the list, read-only, until deleted (`deleteChat`). */
  async leave(id: string): Promise<void> {
    const client = this.#need();
    await client.http.leave(id);
    this.members.delete(id);
    await this.#fetchConversation(id);
  }

  /** Delete a group I left from my list, on all my devices. */
  async deleteChat(id: string): Promise<void> {
    const client = this.#need();
    await client.http.deleteConversation(id);
    this.#removeConversation(id);
  }

  /** Accept a message request: it becomes a normal chat (replying does the same). */
  async acceptRequest(id: string): Promise<void> {
    const client = this.#need();
    this.#putConversation(await client.http.acceptRequest(id), true);
    this.changed();
  }

  // ---- contacts ----

  async refreshContacts(): Promise<void> {
    const client = this.client;
    if (client === null) return;
    try {
      const contacts = await client.http.contacts();
      if (this.client !== client) return;
      this.contacts = contacts;
      for (const c of contacts.contacts) {
        this.users.set(c.user.id, c.user);
        this.presence.set(c.user.id, c.presence);
      }
      // Someone I blocked shows no online state and no last seen.
      for (const u of contacts.blocked) this.presence.delete(u.id);
      this.changed();
    } catch (err) {
      this.#authFailure(err);
    }
  }

  /** I blocked this user (as far as the contact list loaded so far says). */
  isBlocked(userId: string): boolean {
    return this.contacts?.blocked.some((u) => u.id === userId) ?? false;
  }

  /** Block a user: no messages either way, and no presence shown. */
  async block(userId: string): Promise<void> {
    const client = this.#need();
    await this.contactAction(() => client.http.block({ userId }));
  }

  async unblock(userId: string): Promise<void> {
    const client = this.#need();
    await this.contactAction(() => client.http.unblock(userId));
    // Their presence frame may have come before the contact list said they are unblocked.
    await this.refreshPresence([userId]);
  }

  async contactAction(action: () => Promise<unknown>): Promise<void> {
    try {
      await action();
    } catch (err) {
      this.toast(errorText(err));
    }
    await this.refreshContacts();
  }

  #need(): ParleyClient {
    if (this.client === null) throw new ParleyError('unauthorized', 'Not logged in');
    return this.client;
  }

  // ---- notifications ----

  /** Turn push notifications on for this device (asks the browser's permission: call from a click). */
  enableNotifications(): Promise<void> {
    return this.#enablePush(this.#need(), true);
  }

  async #enablePush(client: ParleyClient, interactive: boolean): Promise<void> {
    try {
      const state = await enablePush(client.http);
      if (this.client !== client) return;
      this.push = state;
      if (state === 'denied' && interactive) this.toast('Notifications are blocked in this browser.');
    } catch (err) {
      if (this.client !== client) return;
      // Permission is there but subscribing failed: show it as off, so it can be tried again.
      this.push = pushState() === 'on' ? 'off' : pushState();
      if (interactive) this.toast(`Could not turn on notifications: ${errorText(err)}`);
    }
    this.changed();
  }

  async disableNotifications(): Promise<void> {
    await disablePush(this.client?.http ?? null).catch(() => undefined);
    this.push = pushState();
    this.changed();
  }

  dismissPushPrompt(): void {
    dismissPrompt();
    this.pushPromptDismissed = true;
    this.changed();
  }

  async loadSettings(): Promise<void> {
    const client = this.client;
    if (client === null) return;
    try {
      this.settings = await client.http.settings();
      this.changed();
    } catch (err) {
      this.#authFailure(err);
    }
  }

  async setPushPreview(pushPreview: boolean): Promise<void> {
    const client = this.#need();
    this.settings = await client.http.updateSettings({ pushPreview });
    this.changed();
  }

  /**
   * No notifications from a conversation until `until` (null: until unmuted); with
   * `mentions`, not even for messages that mention me.
   */
  async mute(id: string, until: number | null, mentions = false): Promise<void> {
    const client = this.#need();
    const c = await client.http.mute(id, until, { mentions });
    this.#putConversation(c, true);
    this.changed();
  }

  async unmute(id: string): Promise<void> {
    const client = this.#need();
    const c = await client.http.unmute(id);
    this.#putConversation(c, true);
    this.changed();
  }

  async updateDisplayName(displayName: string): Promise<void> {
    const client = this.#need();
    const user = await client.http.updateMe({ displayName: displayName.trim() });
    if (this.session !== null) {
      this.session = { ...this.session, user };
      saveSession(this.session);
    }
    this.changed();
  }
}

export const app = new AppStore();
