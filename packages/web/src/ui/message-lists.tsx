/**
 * The Saved messages and Mentions views: messages across chats, newest first, a page at a time;
 * each opens its chat at the message.
 */
import type { Message } from '@parley/client';
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { formatListTime } from '../lib/format.js';
import type { ListKind } from '../state/message-lists.js';
import type { AppStore } from '../state/store.js';
import { Snippet, nameOf } from './message-parts.js';
import { PanelFrame } from './panel-frame.js';
import { chatTitle } from './sidebar.js';
import { useApp } from './use-app.js';

const TITLES: Record<ListKind, string> = { saved: 'Saved messages', mentions: 'Mentions' };
const EMPTY: Record<ListKind, string> = {
  saved: 'No saved messages. Save one from its menu to find it here.',
  mentions: 'Nobody has mentioned you in a group yet.',
};

/** One message of a list: its chat, sender, time and start; a click opens the chat there. */
export function ListedMessage({ store, m }: { store: AppStore; m: Message }): JSX.Element {
  const c = store.conversations.get(m.conversationId);
  const chat = c === undefined ? 'A chat you left' : chatTitle(c, store.me?.id, store.users);
  const sender = nameOf(store, m.senderId);
  return (
    <button
      type="button"
      class="listed-item"
      data-testid="listed-item"
      data-seq={m.seq}
      onClick={() => void store.jumpTo(m.conversationId, m.seq)}
    >
      <span class="listed-top">
        <span class="listed-chat">{chat}</span>
        <time class="listed-time" dateTime={new Date(m.createdAt).toISOString()}>
          {formatListTime(m.createdAt)}
        </time>
      </span>
      <span class="listed-text">
        <span class="listed-sender">{sender}: </span>
        <Snippet m={m} />
      </span>
    </button>
  );
}

export function ListPanel({ kind }: { kind: ListKind }): JSX.Element {
  const store = useApp();
  const list = store.lists.get(kind);
  // Loaded each time the view opens; save, unsave and new mentions keep it current meanwhile.
  useEffect(() => void store.loadList(kind), [kind]);
  const messages = list?.messages ?? [];
  return (
    <PanelFrame title={TITLES[kind]} testid={`${kind}-panel`}>
      {messages.length > 0 ? (
        <ul class="listed" aria-label={TITLES[kind]}>
          {messages.map((m) => (
            <li key={`${m.conversationId}:${m.seq}`}>
              <ListedMessage store={store} m={m} />
            </li>
          ))}
        </ul>
      ) : list === undefined || list.loading ? (
        <p class="empty">Loading…</p>
      ) : list.error === null ? (
        <p class="empty" data-testid="listed-empty">
          {EMPTY[kind]}
        </p>
      ) : null}
      {list?.error != null && (
        <p class="error" role="alert">
          Could not load: {list.error}{' '}
          <button class="link" onClick={() => void store.loadList(kind, messages.length > 0)}>
            Try again
          </button>
        </p>
      )}
      {list?.next !== undefined && messages.length > 0 && (
        <button
          class="secondary small load-more"
          disabled={list.loading}
          onClick={() => void store.loadList(kind, true)}
          data-testid="load-more"
        >
          {list.loading ? 'Loading…' : 'Load more'}
        </button>
      )}
    </PanelFrame>
  );
}
