/** The left column: my header and actions, the connection banner, the filter and the chats. */
import type { JSX } from 'preact';
import { memo } from './memo.js';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { Conversation, Message, PendingSend, User } from '@parley/client';
import { formatListTime, mutedNow } from '../lib/format.js';
import { plainText } from '../lib/markup.js';
import { attachmentPreview } from '../lib/attachments.js';
import { distinctName } from '../lib/names.js';
import { navigate } from '../lib/route.js';
import type { AppStore, Connection } from '../state/store.js';
import { Avatar } from './avatar.js';
import { Icon } from './icons.js';
import { SearchField, SearchResults, useSearchShortcut } from './search.js';
import { useApp } from './use-app.js';

export function ConnectionBanner({ connection, pending }: { connection: Connection; pending: number }) {
  let text: string | null = null;
  if (connection === 'offline') {
    text =
      pending > 0
        ? `You're offline. ${pending} message${pending === 1 ? '' : 's'} will be sent when you're back online.`
        : "You're offline. Messages you write will be sent when you're back online.";
  } else if (connection === 'reconnecting' || connection === 'closed') {
    text = 'Connection lost. Reconnecting…';
  } else if (connection === 'connecting' || connection === 'idle') {
    text = 'Connecting…';
  }
  if (text === null) return null;
  // Connecting and short reconnects show only after a moment, so a healthy start does not flicker.
  return (
    <div
      class={`banner ${connection === 'offline' ? 'offline' : 'delayed'}`}
      role="status"
      data-testid="connection-banner"
    >
      {text}
    </div>
  );
}

/** Offered after login, never on page load by itself: the browser asks only after "Turn on". */
function PushPrompt({ store }: { store: AppStore }): JSX.Element {
  return (
    <div class="banner push-prompt" data-testid="push-prompt">
      <Icon name="bell" size={20} class="inline-icon" />
      <span>Get notified of new messages when Parley is closed.</span>
      <span class="push-prompt-actions">
        <button class="link small" onClick={() => void store.enableNotifications()}>
          Turn on
        </button>
        <button class="link small" onClick={() => store.dismissPushPrompt()}>
          Not now
        </button>
      </span>
    </div>
  );
}

/** A 1:1 with myself is my notes: its title says so (its name is my own). */
export function chatTitle(
  c: Conversation,
  me: string | undefined,
  users: ReadonlyMap<string, User> = new Map(),
): string {
  if (c.kind !== 'direct' || c.peer === undefined) return c.name;
  if (c.peer.id === me) return `${c.name} (You)`;
  return distinctName({ ...c.peer, displayName: c.name }, users);
}

export function typingText(store: AppStore, conversationId: string, group: boolean): string | null {
  const ids = store.typing.get(conversationId);
  if (ids === undefined || ids.length === 0) return null;
  if (!group) return 'typing…';
  const names = ids.map((id) => (store.users.get(id)?.displayName ?? 'Someone').split(/\s+/)[0] ?? '');
  if (names.length === 1) return `${names[0]} is typing…`;
  if (names.length === 2) return `${names[0]} and ${names[1]} are typing…`;
  return `${names.length} people are typing…`;
}

interface RowProps {
  c: Conversation;
  title: string;
  active: boolean;
  online: boolean;
  typing: string | null;
  preview: string;
  pending: boolean;
  muted: boolean;
}

const ConversationRow = memo(function ConversationRow({
  c,
  title,
  active,
  online,
  typing,
  preview,
  pending,
  muted,
}: RowProps) {
  const avatarId = c.peer?.id ?? c.id;
  return (
    <li>
      <a
        href={`#/c/${encodeURIComponent(c.id)}`}
        class={`conv ${active ? 'active' : ''} ${c.unread > 0 ? 'has-unread' : ''}`}
        aria-current={active ? 'page' : undefined}
        data-testid="conversation"
        data-name={c.name}
        data-result=""
        onClick={(e) => {
          e.preventDefault();
          navigate({ chat: c.id, info: false, panel: null }, { replace: active });
        }}
      >
        <Avatar id={avatarId} name={c.name} online={c.kind === 'direct' && online} />
        <span class="conv-main">
          <span class="conv-top">
            <span class="conv-name">{title}</span>
            <span class="conv-time">{c.lastMessage !== null ? formatListTime(c.lastActivityAt) : ''}</span>
          </span>
          <span class="conv-bottom">
            {typing !== null ? (
              <span class="conv-preview typing">{typing}</span>
            ) : (
              <span class="conv-preview">
                {pending && <Icon name="clock" size={14} class="inline-icon" />}
                {preview}
              </span>
            )}
            {muted && (
              <span class="conv-muted" data-testid="muted" title="Muted">
                <Icon name="bellOff" size={16} />
                <span class="sr-only">muted</span>
              </span>
            )}
            {c.unread > 0 && (
              <span class="badge" data-testid="unread-badge" aria-label={`${c.unread} unread`}>
                {c.unread > 999 ? '999+' : c.unread}
              </span>
            )}
          </span>
          {c.kind === 'direct' && online && <span class="sr-only">online</span>}
        </span>
      </a>
    </li>
  );
});

/** Previews by message object: an edit makes a new object, so each one is stripped of markup once. */
const previews = new WeakMap<Message | PendingSend, string>();

/** The start of a message's text on one line, without markup. */
function previewText(m: Message | PendingSend): string {
  let text = previews.get(m);
  if (text === undefined) {
    text = plainText(m.text).slice(0, 120).replace(/\s+/g, ' ');
    text = attachmentPreview(m, text) ?? text;
    previews.set(m, text);
  }
  return text;
}

function previewOf(store: AppStore, c: Conversation, pending: PendingSend | undefined): string {
  if (pending !== undefined) {
    // What the server made of a pending send's files names them better than the send can.
    const files = store.sentAttachments.get(pending.clientId);
    const caption = plainText(pending.text).slice(0, 120).replace(/\s+/g, ' ');
    const text = files === undefined ? previewText(pending) : attachmentPreview(pending, caption, files);
    return `You: ${text ?? caption}`;
  }
  const m = c.lastMessage;
  if (m === null) {
    if (c.kind === 'group') return `${c.memberCount} members`;
    return c.peer?.id === store.me?.id ? 'Message yourself' : 'No messages yet';
  }
  const text = previewText(m);
  if (m.senderId === store.me?.id) return `You: ${text}`;
  if (c.kind === 'group') {
    const name = store.users.get(m.senderId)?.displayName;
    if (name !== undefined) return `${name.split(/\s+/)[0] ?? name}: ${text}`;
  }
  return text;
}

export function Sidebar(): JSX.Element {
  const store = useApp();
  useSearchShortcut(store);
  // The search's words also pick chats by name (not when searching in one chat).
  const searching = store.search.active;
  const filter = store.search.filters.conversation === null ? store.search.query.trim() : '';
  // Message requests are kept apart, behind their own entry at the top of the list.
  const [showRequests, setShowRequests] = useState(false);
  const me = store.me;
  const conversations = store.conversations;
  const rev = store.rev;

  const [chats, requestList] = useMemo(() => {
    const q = filter.toLowerCase();
    const all = [...conversations.values()]
      .filter((c) => q === '' || c.name.toLowerCase().includes(q) || (c.peer?.username.includes(q) ?? false))
      .sort((a, b) => b.lastActivityAt - a.lastActivityAt || (a.id < b.id ? -1 : 1));
    return [all.filter((c) => c.request !== true), all.filter((c) => c.request === true)];
    // `rev` changes whenever a conversation does (the Map is mutated in place).
  }, [conversations, filter, rev]);
  // Once the last request is answered, the next one waits behind the entry again.
  useEffect(() => {
    if (requestList.length === 0 && showRequests) setShowRequests(false);
  }, [requestList.length, showRequests]);
  const inRequests = showRequests && requestList.length > 0;
  const list = inRequests ? requestList : chats;

  const lastPending = new Map<string, PendingSend>();
  for (const p of store.pending.values()) lastPending.set(p.conversationId, p);
  const requests = store.contacts?.incoming.length ?? 0;
  // Presence is only known while connected.
  const live = store.connection === 'synced' || store.connection === 'open';

  const rows = (cs: Conversation[], label?: string) => (
    <ul aria-label={label}>
      {cs.map((c) => (
        <ConversationRow
          key={c.id}
          c={c}
          title={chatTitle(c, me?.id, store.users)}
          active={store.route.chat === c.id}
          online={live && c.peer !== undefined && store.presence.get(c.peer.id)?.online === true}
          typing={typingText(store, c.id, c.kind === 'group')}
          preview={previewOf(store, c, lastPending.get(c.id))}
          pending={lastPending.has(c.id)}
          muted={mutedNow(c)}
        />
      ))}
    </ul>
  );

  return (
    <section class="sidebar" aria-label="Chats">
      <header class="bar">
        <button
          class="icon-btn me"
          onClick={() => navigate({ panel: 'settings' })}
          aria-label="Settings and devices"
          title="Settings"
        >
          <Avatar id={me?.id ?? ''} name={me?.displayName ?? ''} size={40} />
        </button>
        <h1 class="bar-title">Chats</h1>
        <button
          class="icon-btn"
          onClick={() => navigate({ panel: 'mentions' })}
          aria-label="Mentions"
          title="Mentions"
        >
          <Icon name="at" />
        </button>
        <button
          class="icon-btn"
          onClick={() => navigate({ panel: 'saved' })}
          aria-label="Saved messages"
          title="Saved messages"
        >
          <Icon name="bookmark" />
        </button>
        <button
          class="icon-btn"
          onClick={() => navigate({ panel: 'contacts' })}
          aria-label={requests > 0 ? `Contacts (${requests} new requests)` : 'Contacts'}
          title="Contacts"
        >
          <Icon name="contacts" />
          {requests > 0 && (
            <span class="mini-badge" aria-hidden="true">
              {requests}
            </span>
          )}
        </button>
        <button
          class="icon-btn"
          onClick={() => navigate({ panel: 'group' })}
          aria-label="New group"
          title="New group"
        >
          <Icon name="group" />
        </button>
        <button
          class="icon-btn"
          onClick={() => navigate({ panel: 'new' })}
          aria-label="New chat"
          title="New chat"
        >
          <Icon name="chat" />
        </button>
      </header>
      <ConnectionBanner connection={store.connection} pending={store.pending.size} />
      {store.push === 'ask' && !store.pushPromptDismissed && <PushPrompt store={store} />}
      <SearchField />
      {searching ? (
        <SearchResults
          chats={
            filter !== '' && chats.length + requestList.length > 0 ? (
              <>
                <h2 class="search-section">Chats</h2>
                {rows([...chats, ...requestList], 'Chats found')}
              </>
            ) : null
          }
        />
      ) : (
        <nav class="conv-list" aria-label={inRequests ? 'Message requests' : 'Conversations'}>
          {inRequests ? (
            <div class="requests-head">
              <button
                class="link with-icon"
                onClick={() => setShowRequests(false)}
                data-testid="requests-back"
              >
                <Icon name="back" size={20} />
                Chats
              </button>
              <h2 class="requests-title">Message requests</h2>
            </div>
          ) : (
            requestList.length > 0 && (
              <button
                class="requests-entry"
                onClick={() => setShowRequests(true)}
                data-testid="requests-entry"
              >
                <Icon name="contacts" size={20} />
                <span class="requests-entry-text">Message requests</span>
                <span class="badge" aria-label={`${requestList.length} waiting`}>
                  {requestList.length}
                </span>
              </button>
            )
          )}
          {list.length === 0 && store.conversationsLoaded ? (
            <div class="empty">
              <p>No chats yet.</p>
              <button class="primary with-icon" onClick={() => navigate({ panel: 'new' })}>
                <Icon name="chat" size={20} />
                Start a chat
              </button>
            </div>
          ) : list.length === 0 ? (
            <p class="empty">Loading chats…</p>
          ) : (
            rows(list)
          )}
        </nav>
      )}
    </section>
  );
}
