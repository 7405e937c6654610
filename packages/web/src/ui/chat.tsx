/** The open conversation: header, message history and composer. */
import type { HTMLAttributes, JSX } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import type { Attachment, Conversation, Member, Message, PendingSend } from '@parley/client';
import { attachmentsOf } from '../lib/attachments.js';
import { colorIndex, formatCount, formatDay, formatLastSeen, formatTime, startOfDay } from '../lib/format.js';
import { isEmojiOnly, parseMarkup } from '../lib/markup.js';
import { Markup } from '../lib/markup-view.js';
import { distinctName } from '../lib/names.js';
import { back, navigate } from '../lib/route.js';
import type { AppStore, MessageWindow, UploadJob } from '../state/store.js';
import { Attachments, UploadingFiles } from './attachments.js';
import { PreviewLink } from './link-preview.js';
import { Avatar } from './avatar.js';
import { ReadOnlyBar, RequestBar, leftLine, readOnly } from './chat-bars.js';
import { Icon } from './icons.js';
import { useConfirm } from './dialog.js';
import { ForwardDialog } from './forward.js';
import { MessageInfoDialog } from './message-info.js';
import { EmojiDialog, MessageMenu, copyLink } from './message-menu.js';
import type { MenuChoice } from './message-menu.js';
import { Quote, Reactions } from './message-parts.js';
import { Composer } from './composer.js';
import { PinBar } from './pins.js';
import { openSearch } from './search.js';
import { chatTitle, typingText } from './sidebar.js';
import { useApp } from './use-app.js';
import { VirtualList } from './virtual-list.js';
import type { ViewState, VirtualListHandle } from './virtual-list.js';

/** Consecutive messages of one sender within this time form one group of bubbles. */
const GROUP_GAP_MS = 5 * 60_000;
/** Messages taller than this many lines fold, with a button to read the rest. */
const FOLD_LINES = 25;
/** The bubble's line height (`.bubble` in styles.css), in px. */
const LINE_PX = 19.5;
const FOLD_PX = FOLD_LINES * LINE_PX;

/**
 * Whether a text could be taller than the fold in the narrowest bubble (about 15 wide
 * characters a line): only those are measured.
 */
function mayFold(text: string): boolean {
  if (text.length >= FOLD_LINES * 15) return true;
  let lines = 1;
  for (let i = text.indexOf('\n'); i >= 0 && lines < FOLD_LINES; i = text.indexOf('\n', i + 1)) lines++;
  return lines >= FOLD_LINES;
}

type Row =
  | { kind: 'top'; key: 'top'; loading: boolean; hasOlder: boolean }
  | { kind: 'day'; key: string; t: number }
  | { kind: 'unread'; key: 'unread' }
  | { kind: 'system'; key: string; text: string }
  | { kind: 'msg'; key: string; m: Message; mine: boolean; first: boolean; last: boolean }
  | { kind: 'pending'; key: string; p: PendingSend; first: boolean; last: boolean }
  | { kind: 'upload'; key: string; job: UploadJob; first: boolean; last: boolean };

type Own = Extract<Row, { kind: 'msg' | 'pending' | 'upload' }>;

function buildRows(
  w: MessageWindow | undefined,
  pending: PendingSend[],
  me: string,
  unreadAfter: number,
  uploads: UploadJob[] = [],
): Row[] {
  const rows: Row[] = [
    { kind: 'top', key: 'top', loading: w?.loadingOlder ?? true, hasOlder: w?.hasOlder ?? true },
  ];
  let day = -1;
  let prevSender: string | null = null;
  let prevAt = 0;
  let prev: Own | null = null;
  // The line goes before the first unread message, once the history reaches back to it.
  let unreadShown = (w?.messages[0]?.seq ?? Infinity) > unreadAfter + 1;
  const add = (sender: string, at: number, row: Own, seq: number) => {
    const d = startOfDay(at);
    let breakGroup = false;
    if (d !== day) {
      rows.push({ kind: 'day', key: `d${d}`, t: at });
      day = d;
      breakGroup = true;
    }
    if (!unreadShown && seq > unreadAfter && sender !== me && row.kind === 'msg') {
      rows.push({ kind: 'unread', key: 'unread' });
      unreadShown = true;
      breakGroup = true;
    }
    if (breakGroup || sender !== prevSender || at - prevAt > GROUP_GAP_MS) {
      row.first = true;
      if (prev !== null) prev.last = true;
    }
    rows.push(row);
    prev = row;
    prevSender = sender;
    prevAt = at;
  };
  for (const m of w?.messages ?? []) {
    const mine = m.senderId === me;
    add(
      m.senderId,
      m.createdAt,
      { kind: 'msg', key: `m${m.seq}`, m, mine, first: false, last: false },
      m.seq,
    );
  }
  // A send whose message already arrived (its echo can come just before its ack) shows once.
  const arrived = new Set((w?.messages ?? []).filter((m) => m.senderId === me).map((m) => m.clientId));
  for (const p of pending) {
    if (arrived.has(p.clientId)) continue;
    add(me, p.createdAt, { kind: 'pending', key: `p${p.clientId}`, p, first: false, last: false }, Infinity);
  }
  for (const job of uploads) {
    add(me, job.createdAt, { kind: 'upload', key: job.key, job, first: false, last: false }, Infinity);
  }
  if (prev !== null) (prev as { last: boolean }).last = true;
  return rows;
}

function estimateRow(row: Row, width: number, group: boolean, open: boolean): number {
  switch (row.kind) {
    case 'top':
      return 56;
    case 'day':
    case 'unread':
    case 'system':
      return 44;
    case 'upload':
      return 120 + (row.job.caption === '' ? 0 : 20);
    case 'msg':
    case 'pending': {
      const text = row.kind === 'msg' ? row.m.text : row.p.text;
      const files = row.kind === 'msg' ? attachmentsOf(row.m) : (row.p.attachments ?? []);
      const bubble = Math.min(width * 0.75, 620) - 24;
      const perLine = Math.max(10, Math.floor(bubble / 7.8));
      let lines = 0;
      for (const line of text.split('\n')) lines += Math.max(1, Math.ceil((line.length + 8) / perLine));
      // A folded text shows FOLD_LINES lines and its "Read more" button.
      if (!open && lines > FOLD_LINES) lines = FOLD_LINES + 2;
      const name = group && row.kind === 'msg' && !row.mine && row.first ? 20 : 0;
      const media =
        row.kind === 'msg'
          ? (files as Attachment[]).reduce(
              (h, a, i) => h + (a.kind === 'image' ? (i === 0 ? 240 : 0) : 56),
              0,
            )
          : files.length * 56;
      return 16 + lines * 19.5 + name + media + (row.first ? 8 : 2);
    }
    default: {
      const never: never = row;
      return never;
    }
  }
}

type Status = 'sending' | 'sent' | 'delivered' | 'read';

interface Receipt {
  status: Status;
  label: string;
  /** Group messages read by some but not all others. */
  readCount?: number;
}

function receiptOf(c: Conversation, members: Member[] | undefined, me: string, seq: number): Receipt {
  if (c.kind === 'direct') {
    if ((c.peerReadSeq ?? 0) >= seq) return { status: 'read', label: 'Read' };
    if ((c.peerDeliveredSeq ?? 0) >= seq) return { status: 'delivered', label: 'Delivered' };
    return { status: 'sent', label: 'Sent' };
  }
  const others = (members ?? []).filter((m) => m.userId !== me);
  if (others.length === 0) return { status: 'sent', label: 'Sent' };
  const read = others.filter((m) => m.readSeq >= seq).length;
  const delivered = others.filter((m) => m.deliveredSeq >= seq || m.readSeq >= seq).length;
  const label = `Read by ${read} of ${others.length}, delivered to ${delivered} of ${others.length}`;
  if (read === others.length) return { status: 'read', label };
  const status: Status = delivered === others.length ? 'delivered' : 'sent';
  return read > 0 ? { status, label, readCount: read } : { status, label };
}

function Ticks({ status }: { status: Status }) {
  if (status === 'sending') return <Icon name="clock" size={15} class="tick sending" />;
  return <Icon name={status === 'sent' ? 'check' : 'double'} size={16} class={`tick ${status}`} />;
}

/** A strong character: a letter, or a left-to-right or right-to-left mark. */
const STRONG = /[\p{L}\u200e\u200f]/u;
const RTL =
  /[\u200f\p{Script=Hebrew}\p{Script=Arabic}\p{Script=Syriac}\p{Script=Thaana}\p{Script=Nko}\p{Script=Samaritan}\p{Script=Mandaic}\p{Script=Adlam}\p{Script=Hanifi_Rohingya}]/u;

/**
 * The direction `dir="auto"` would give a text (that of its first strong character), worked
 * out here so the time and ticks can go where its last line ends: bottom left for Hebrew or
 * Arabic, bottom right otherwise.
 */
function textDirection(text: string): 'ltr' | 'rtl' {
  const first = STRONG.exec(text);
  return first !== null && RTL.test(first[0]) ? 'rtl' : 'ltr';
}

/**
 * A message's text. A long one folds after FOLD_LINES lines, with a button that unfolds it
 * (and folds it again) on a line of its own, with room kept for the time; whether it is that
 * long is measured once it is laid out.
 */
function MessageText(props: {
  id: string;
  text: string;
  time: number;
  ticks: boolean;
  open: boolean;
  onToggle: () => void;
  /** A group's members by username (true for mine): their `@mentions` show highlighted. */
  mentions?: ReadonlyMap<string, boolean> | undefined;
}): JSX.Element {
  const { text, open } = props;
  const ref = useRef<HTMLDivElement>(null);
  const candidate = mayFold(text);
  const [tall, setTall] = useState(false);
  useLayoutEffect(() => {
    const el = ref.current;
    // A hidden list has nothing to measure; scrollHeight is the whole text, folded or not.
    if (!candidate || el === null || el.clientWidth === 0) return;
    const next = el.scrollHeight > FOLD_PX + 1;
    if (next !== tall) setTall(next);
  });
  const dir = textDirection(text);
  const folded = candidate && !open;
  const blocks = useMemo(() => parseMarkup(text), [text]);
  const emoji = useMemo(() => isEmojiOnly(text), [text]);
  return (
    <>
      <div
        ref={ref}
        id={props.id}
        class={`text ${emoji ? 'emoji-only' : ''} ${folded ? 'fold' : ''} ${folded && tall ? 'faded' : ''}`}
        dir={dir}
        style={folded ? { maxHeight: `${FOLD_PX}px` } : undefined}
      >
        <Markup blocks={blocks} mentions={props.mentions} />
        <MetaSpacer time={props.time} ticks={props.ticks} />
      </div>
      {candidate && tall && (
        <div class="fold-bar" dir={dir}>
          <button
            type="button"
            class="link read-more"
            aria-expanded={open}
            aria-controls={props.id}
            onClick={props.onToggle}
          >
            {open ? 'Show less' : 'Read more'}
          </button>
          <MetaSpacer time={props.time} ticks={props.ticks} />
        </div>
      )}
    </>
  );
}

/** Room for the time and ticks at the end of the last line (they sit over it, at its end). */
function MetaSpacer({ time, ticks }: { time: number; ticks: boolean }) {
  return (
    <span class="meta-spacer" aria-hidden="true">
      {formatTime(time)}
      {ticks && <span class="tick-space" />}
    </span>
  );
}

function senderName(store: AppStore, userId: string): string {
  const user = store.users.get(userId);
  return user === undefined ? 'Former member' : distinctName(user, store.users);
}

export function ChatView({ id }: { id: string }): JSX.Element {
  const store = useApp();
  const c = store.conversations.get(id);
  const me = store.me;
  if (c === undefined || me === null) {
    return (
      <section class="chat" aria-label="Conversation">
        <header class="bar chat-bar">
          <button class="icon-btn back" onClick={() => back({ chat: null })} aria-label="Back to chats">
            <Icon name="back" />
          </button>
        </header>
        <div class="chat-empty">{store.conversationsLoaded ? 'Loading…' : ''}</div>
      </section>
    );
  }
  return <OpenChat key={id} c={c} />;
}

function OpenChat({ c }: { c: Conversation }): JSX.Element {
  const store = useApp();
  const me = store.me?.id ?? '';
  const id = c.id;
  const group = c.kind === 'group';
  const presence = c.peer !== undefined ? store.presence.get(c.peer.id) : undefined;
  const typing = typingText(store, id, group);
  const members = store.members.get(id);

  let subtitle = '';
  if (typing !== null) subtitle = typing;
  else if (c.left !== undefined) subtitle = 'You are no longer a member';
  else if (group) {
    if (members !== undefined) {
      const names = members
        .filter((m) => m.userId !== me)
        .map((m) => m.displayName)
        .slice(0, 6);
      subtitle = [...names, 'You'].join(', ');
    } else subtitle = `${c.memberCount} members`;
  } else if (c.peer?.id === me) subtitle = 'Message yourself';
  else if (store.connection !== 'synced' && store.connection !== 'open') subtitle = '';
  else if (presence?.online === true) subtitle = 'online';
  else if (presence !== undefined) subtitle = formatLastSeen(presence.lastActiveAt);

  return (
    <section class="chat" aria-label={`Conversation with ${c.name}`}>
      {/* The chat's heading for screen readers: the visible name is inside the details button. */}
      <h1 class="sr-only">{chatTitle(c, me, store.users)}</h1>
      <header class="bar chat-bar">
        <button class="icon-btn back" onClick={() => back({ chat: null })} aria-label="Back to chats">
          <Icon name="back" />
        </button>
        <button class="chat-title" onClick={() => navigate({ info: true })} aria-label={`${c.name}: details`}>
          <Avatar id={c.peer?.id ?? c.id} name={c.name} size={40} />
          <span class="chat-title-text">
            <span class="chat-name" data-testid="chat-name">
              {chatTitle(c, me, store.users)}
            </span>
            <span
              class={`chat-sub ${typing !== null ? 'typing' : ''} ${subtitle === '' ? 'no-sub' : ''}`}
              data-testid="chat-status"
              aria-live="polite"
            >
              {subtitle}
            </span>
          </span>
        </button>
        <button
          class="icon-btn"
          onClick={() => openSearch(store, id)}
          aria-label="Search in this chat"
          title="Search in this chat"
          data-testid="search-in-chat"
        >
          <Icon name="search" />
        </button>
        <button
          class="icon-btn"
          onClick={() => navigate({ info: true })}
          aria-label="Conversation info"
          title="Info"
        >
          <Icon name="info" />
        </button>
      </header>
      <PinBar c={c} />
      <MessageList c={c} members={members} />
      {c.request === true && !readOnly(store, c) && <RequestBar c={c} />}
      {readOnly(store, c) ? <ReadOnlyBar c={c} /> : <Composer key={id} id={id} />}
    </section>
  );
}

function MessageList({ c, members }: { c: Conversation; members: Member[] | undefined }): JSX.Element {
  const store = useApp();
  const me = store.me?.id ?? '';
  const id = c.id;
  const group = c.kind === 'group';
  const w = store.windows.get(id);
  const handle = useRef<VirtualListHandle>(null);
  // The read cursor when the conversation was opened: the "unread messages" line stays put.
  const [unreadAfter] = useState(() => (c.unread > 0 ? c.readSeq : Infinity));
  const [atBottom, setAtBottom] = useState(true);
  const [info, setInfo] = useState<Message | null>(null);
  const [menu, setMenu] = useState<{ m: Message; at: { x: number; y: number } } | null>(null);
  const [emojiFor, setEmojiFor] = useState<Message | null>(null);
  const [forwardOf, setForwardOf] = useState<Message | null>(null);
  const [highlight, setHighlight] = useState<number | null>(null);
  const [confirm, ask] = useConfirm();
  const mentionNames = useMemo(
    () =>
      group && members !== undefined ? new Map(members.map((x) => [x.username, x.userId === me])) : undefined,
    [group, members, me],
  );
  const touch = useRef<{
    x: number;
    y: number;
    dx: number;
    dy: number;
    timer?: ReturnType<typeof setTimeout>;
  } | null>(null);

  function toggleReaction(m: Message, emoji: string): void {
    const mine = m.reactions?.some((r) => r.emoji === emoji && r.userIds.includes(me)) === true;
    store.act(id, { kind: mine ? 'unreact' : 'react', target: m.seq, emoji });
  }

  function choose(m: Message, choice: MenuChoice): void {
    if (typeof choice === 'object') {
      toggleReaction(m, choice.react);
      return;
    }
    const target = m.seq;
    switch (choice) {
      case 'reply':
      case 'edit':
        store.setCompose(id, { kind: choice, seq: target });
        return;
      case 'delete-me':
        store.act(id, { kind: 'hide', target });
        return;
      case 'delete-all':
        ask({
          title: 'Delete for everyone?',
          message: 'The message will be replaced by "This message was deleted" for everyone in the chat.',
          confirm: 'Delete',
          onConfirm: () => store.act(id, { kind: 'delete', target }),
        });
        return;
      case 'forward':
        setForwardOf(m);
        return;
      case 'pin':
      case 'unpin':
      case 'save':
      case 'unsave':
        store.act(id, { kind: choice, target });
        return;
      case 'copy':
        void copyLink(id, target).then((ok) => store.toast(ok ? 'Link copied.' : 'Could not copy the link.'));
        return;
      case 'more-reactions':
        setEmojiFor(m);
        return;
      default: {
        const never: never = choice;
        return never;
      }
    }
  }

  /** Long press opens the menu; a swipe to the right replies. */
  function gestures(m: Message): HTMLAttributes<HTMLDivElement> {
    const bubbleOf = (el: EventTarget) =>
      (el as HTMLElement).closest('.msg')?.querySelector<HTMLElement>('.bubble');
    return {
      onContextMenu: (e) => {
        e.preventDefault();
        setMenu({ m, at: { x: e.clientX, y: e.clientY } });
      },
      onTouchStart: (e) => {
        const t = e.touches[0];
        if (t === undefined || e.touches.length > 1) return;
        const at = { x: t.clientX, y: t.clientY };
        touch.current = {
          ...at,
          dx: 0,
          dy: 0,
          timer: setTimeout(() => {
            touch.current = null;
            setMenu({ m, at });
          }, 500),
        };
      },
      onTouchMove: (e) => {
        const s = touch.current;
        const t = e.touches[0];
        if (s === null || t === undefined) return;
        s.dx = t.clientX - s.x;
        s.dy = t.clientY - s.y;
        if (Math.abs(s.dx) > 8 || Math.abs(s.dy) > 8) clearTimeout(s.timer);
        const b = bubbleOf(e.currentTarget);
        if (b != null && s.dx > 0 && Math.abs(s.dy) < 30)
          b.style.transform = `translateX(${Math.min(s.dx, 80)}px)`;
      },
      onTouchEnd: (e) => {
        const s = touch.current;
        touch.current = null;
        const b = bubbleOf(e.currentTarget);
        if (b != null) b.style.transform = '';
        if (s === null) return;
        clearTimeout(s.timer);
        if (s.dx > 60 && Math.abs(s.dy) < 40 && m.deleted !== true)
          store.setCompose(id, { kind: 'reply', seq: m.seq });
      },
      onTouchCancel: () => {
        if (touch.current !== null) clearTimeout(touch.current.timer);
        touch.current = null;
      },
    };
  }
  // Long messages unfolded by the reader, by row key (rows scrolled away and back stay open).
  const [open, setOpen] = useState<ReadonlySet<string>>(() => new Set());
  const toggle = (key: string) =>
    setOpen((s) => {
      const next = new Set(s);
      if (!next.delete(key)) next.add(key);
      return next;
    });

  const pending = useMemo(
    // Actions wait in the same outbox; they show on their message once stored.
    () => [...store.pending.values()].filter((p) => p.conversationId === id && p.action === undefined),
    [store.pending, id],
  );
  const uploads = useMemo(
    () => [...store.uploads.values()].filter((j) => j.conversationId === id),
    [store.uploads, id],
  );
  const left = leftLine(c);
  const rows = useMemo(() => {
    const built = buildRows(w, pending, me, unreadAfter, uploads);
    // A group I left ends with a line that says so.
    if (left !== null && w !== undefined) built.push({ kind: 'system', key: 'left', text: left });
    return built;
    // `w.rev` changes whenever the window's messages do (they are mutated in place).
  }, [w, w?.rev, pending, uploads, me, unreadAfter, left]);
  const initialKey = useMemo(
    () => (rows.some((r) => r.kind === 'unread') ? 'unread' : undefined),
    [rows.length > 1],
  );

  // A jump to a message of this chat (a quote, a link, a list of mentions, pins or saved).
  const focus = store.focus;
  useEffect(() => {
    if (focus === null || focus.conversationId !== id) return;
    if (handle.current?.scrollToKey(`m${focus.seq}`) !== true) return;
    setHighlight(focus.seq);
    const t = setTimeout(() => setHighlight(null), 2000);
    return () => clearTimeout(t);
  }, [focus?.n, rows]);

  // My own new message: show it, wherever the list was scrolled to.
  const lastPending = uploads[uploads.length - 1]?.key ?? pending[pending.length - 1]?.clientId;
  useEffect(() => {
    if (lastPending !== undefined) handle.current?.scrollToBottom();
  }, [lastPending]);

  useEffect(() => () => store.unseen(id), [id]);

  function onView(v: ViewState): void {
    if (v.atBottom !== atBottom) setAtBottom(v.atBottom);
    let max = 0;
    for (let i = v.last; i >= v.first; i--) {
      const r = rows[i];
      if (r?.kind === 'msg') {
        max = r.m.seq;
        break;
      }
    }
    if (max > 0) store.seen(id, max);
  }

  function renderRow(row: Row): JSX.Element {
    switch (row.kind) {
      case 'top':
        return (
          <div class="list-top" data-testid={row.hasOlder ? 'history-more' : 'history-start'}>
            {row.hasOlder ? (
              <span class="spinner" aria-label="Loading older messages" />
            ) : (
              <span class="chip">
                {c.kind === 'group'
                  ? 'This is the start of the group.'
                  : 'This is the start of your conversation.'}
              </span>
            )}
          </div>
        );
      case 'day':
        return (
          <div class="day">
            <span class="chip">{formatDay(row.t)}</span>
          </div>
        );
      case 'system':
        return (
          <div class="day system" data-testid="system-line">
            <span class="chip">{row.text}</span>
          </div>
        );
      case 'unread':
        return (
          <div class="unread-line" role="separator">
            <span>Unread messages</span>
          </div>
        );
      case 'msg': {
        const { m, mine } = row;
        const receipt = mine ? receiptOf(c, members, me, m.seq) : null;
        const deleted = m.deleted === true;
        const mentionsMe = m.mentions?.includes(me) === true;
        return (
          <div
            class={`msg ${mine ? 'out' : 'in'} ${row.first ? 'first' : ''} ${row.last ? 'last' : ''} ${highlight === m.seq ? 'highlight' : ''}`}
            data-testid="message"
            data-seq={m.seq}
            data-status={receipt?.status}
            {...gestures(m)}
          >
            <div class={`bubble ${deleted ? 'tombstone' : ''} ${mentionsMe ? 'mentions-me' : ''}`}>
              {group && !mine && row.first && (
                <div class={`sender c${colorIndex(m.senderId)}`}>{senderName(store, m.senderId)}</div>
              )}
              {m.forwarded === true && !deleted && (
                <div class="forwarded" data-testid="forwarded">
                  Forwarded
                </div>
              )}
              {m.replyTo !== undefined && !deleted && (
                <Quote store={store} conversationId={id} replyTo={m.replyTo} />
              )}
              {!deleted && attachmentsOf(m).length > 0 && (
                <Attachments store={store} attachments={attachmentsOf(m)} />
              )}
              {deleted ? (
                <div class="text deleted-text" data-testid="tombstone">
                  This message was deleted
                  <MetaSpacer time={m.createdAt} ticks={false} />
                </div>
              ) : m.text === '' && attachmentsOf(m).length > 0 ? null : (
                <MessageText
                  id={`text-${row.key}`}
                  text={m.text}
                  time={m.createdAt}
                  ticks={mine}
                  open={open.has(row.key)}
                  onToggle={() => toggle(row.key)}
                  mentions={mentionNames}
                />
              )}
              {!deleted && m.preview !== undefined && <PreviewLink preview={m.preview} />}
              <span class="meta">
                {m.pinnedAt !== undefined && (
                  <span class="pinned-mark" role="img" aria-label="Pinned" title="Pinned">
                    📌
                  </span>
                )}
                {m.editedAt !== undefined && !deleted && (
                  <span class="edited" data-testid="edited">
                    edited
                  </span>
                )}
                <time dateTime={new Date(m.createdAt).toISOString()}>{formatTime(m.createdAt)}</time>
                {receipt !== null &&
                  !deleted &&
                  (group ? (
                    <button
                      class="ticks-btn"
                      onClick={() => setInfo(m)}
                      aria-label={`${receipt.label}. Show who read it`}
                      title={receipt.label}
                    >
                      {receipt.readCount !== undefined && <span class="rcount">{receipt.readCount}</span>}
                      <Ticks status={receipt.status} />
                    </button>
                  ) : (
                    <span role="img" aria-label={receipt.label} title={receipt.label}>
                      <Ticks status={receipt.status} />
                    </span>
                  ))}
              </span>
              <button
                type="button"
                class="msg-menu-btn"
                aria-label="Message options"
                aria-haspopup="menu"
                data-testid="message-menu-button"
                onClick={(e) => {
                  const r = e.currentTarget.getBoundingClientRect();
                  setMenu({ m, at: { x: r.left, y: r.bottom + 4 } });
                }}
              >
                <Icon name="down" size={18} />
              </button>
            </div>
            {m.reactions !== undefined && m.reactions.length > 0 && (
              <Reactions
                store={store}
                reactions={m.reactions}
                onToggle={(emoji) => toggleReaction(m, emoji)}
              />
            )}
          </div>
        );
      }
      case 'pending':
        return (
          <div
            class={`msg out ${row.first ? 'first' : ''} ${row.last ? 'last' : ''}`}
            data-testid="message"
            data-status="sending"
          >
            <div class="bubble">
              {row.p.attachments !== undefined && (
                <Attachments store={store} attachments={store.sentAttachments.get(row.p.clientId) ?? []} />
              )}
              {row.p.text !== '' && (
                <MessageText
                  id={`text-${row.key}`}
                  text={row.p.text}
                  time={row.p.createdAt}
                  ticks
                  open={open.has(row.key)}
                  onToggle={() => toggle(row.key)}
                />
              )}
              <span class="meta">
                <time dateTime={new Date(row.p.createdAt).toISOString()}>{formatTime(row.p.createdAt)}</time>
                <span role="img" aria-label="Waiting to send" title="Waiting to send">
                  <Ticks status="sending" />
                </span>
              </span>
            </div>
          </div>
        );
      case 'upload':
        return (
          <div
            class={`msg out ${row.first ? 'first' : ''} ${row.last ? 'last' : ''}`}
            data-testid="message"
            data-status="uploading"
          >
            <div class="bubble">
              <UploadingFiles store={store} job={row.job} />
              {row.job.caption !== '' && (
                <div class="text" dir="auto">
                  {row.job.caption}
                </div>
              )}
            </div>
          </div>
        );
      default: {
        const never: never = row;
        return never;
      }
    }
  }

  const unread = c.unread;
  return (
    <div class="messages-wrap">
      {w === undefined ? (
        <div class="messages" />
      ) : (
        <VirtualList
          className="messages"
          label={`Messages with ${c.name}`}
          items={rows}
          rev={`${store.rev}`}
          estimate={(row, width) => estimateRow(row, width, group, open.has(row.key))}
          render={renderRow}
          canAnchor={(row) => row.kind === 'msg' || row.kind === 'pending' || row.kind === 'upload'}
          initialKey={initialKey}
          onView={onView}
          onNearTop={() => void store.loadOlder(id)}
          handle={handle}
        />
      )}
      {!atBottom && (
        <button
          class="jump"
          onClick={() => handle.current?.scrollToBottom()}
          aria-label={unread > 0 ? `Jump to latest, ${unread} new messages` : 'Jump to latest'}
          data-testid="jump-latest"
        >
          <Icon name="down" />
          {unread > 0 && <span class="badge">{unread > 999 ? '999+' : formatCount(unread)}</span>}
        </button>
      )}
      {info !== null && <MessageInfoDialog c={c} message={info} onClose={() => setInfo(null)} />}
      {menu !== null && (
        <MessageMenu
          c={c}
          m={store.message(id, menu.m.seq) ?? menu.m}
          me={me}
          at={menu.at}
          onChoose={(choice) => choose(menu.m, choice)}
          onClose={() => setMenu(null)}
        />
      )}
      {emojiFor !== null && (
        <EmojiDialog onPick={(emoji) => toggleReaction(emojiFor, emoji)} onClose={() => setEmojiFor(null)} />
      )}
      {forwardOf !== null && <ForwardDialog from={c} m={forwardOf} onClose={() => setForwardOf(null)} />}
      {confirm}
    </div>
  );
}
