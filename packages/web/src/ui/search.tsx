/**
 * Message search in the sidebar: the field with its filters (a chat, a sender, dates) and the
 * results that replace the chat list while a search is on. Keyboard: `/` or Ctrl+K focuses the
 * field, arrows move through the results, Escape clears and leaves.
 */
import type { JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import type { Conversation, SearchHit } from '@parley/client';
import { formatListTime } from '../lib/format.js';
import { navigate } from '../lib/route.js';
import { snippet } from '../lib/snippet.js';
import { MAX_QUERY } from '../state/search.js';
import type { DatePreset } from '../state/search.js';
import type { AppStore } from '../state/store.js';
import { Avatar } from './avatar.js';
import { Icon } from './icons.js';
import { chatTitle } from './sidebar.js';
import { useApp } from './use-app.js';

const PHONE = '(max-width: 480px)';

/** Open the search (in one chat, or everywhere); on a phone it takes the list's screen. */
export function openSearch(store: AppStore, conversationId?: string): void {
  if (store.route.chat !== null && matchMedia(PHONE).matches) navigate({ chat: null, info: false });
  if (conversationId !== undefined) store.search.within(conversationId);
  else store.search.focus();
}

/** `/` (outside a text field) or Ctrl+K / Cmd+K anywhere. */
export function useSearchShortcut(store: AppStore): void {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement | null;
      const typing = t !== null && (t.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName));
      const slash = e.key === '/' && !typing && !e.ctrlKey && !e.metaKey && !e.altKey;
      const k = (e.ctrlKey || e.metaKey) && !e.altKey && e.key.toLowerCase() === 'k';
      if (!slash && !k) return;
      // A dialog (menu, confirm) keeps the keyboard.
      if (document.querySelector('[role="dialog"][aria-modal="true"], [role="menu"]') !== null) return;
      e.preventDefault();
      openSearch(store);
      // Focus now when the field is on screen: the effect runs after the next paint, and keys
      // typed straight after the shortcut would land outside the field until then.
      const field = document.getElementById('search-field');
      if (field instanceof HTMLInputElement && field.offsetParent !== null) field.focus();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store]);
}

/** Results and the field: arrows move between them. */
function results(from: Element | null): HTMLElement[] {
  const root = from?.closest('.sidebar');
  return root === null || root === undefined
    ? []
    : Array.from(root.querySelectorAll<HTMLElement>('[data-result]'));
}

function moveFocus(e: KeyboardEvent, from: Element, input: HTMLInputElement | null): void {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const list = results(from);
  if (list.length === 0) return;
  e.preventDefault();
  const at = list.indexOf(document.activeElement as HTMLElement);
  const next = e.key === 'ArrowDown' ? Math.min(at + 1, list.length - 1) : at - 1;
  if (next < 0) input?.focus();
  else list[next]?.focus();
}

export function SearchField(): JSX.Element {
  const store = useApp();
  const search = store.search;
  const input = useRef<HTMLInputElement>(null);

  useEffect(() => {
    if (search.focusRequest > 0) input.current?.focus();
  }, [search.focusRequest]);

  return (
    <div class="search" role="search">
      <Icon name="search" size={20} class="search-icon" />
      <input
        ref={input}
        id="search-field"
        type="search"
        placeholder={
          search.filters.conversation !== null ? 'Search in this chat' : 'Search chats and messages'
        }
        aria-label="Search chats and messages"
        aria-controls={search.active ? 'search-results' : undefined}
        autocomplete="off"
        maxLength={MAX_QUERY}
        value={search.query}
        onInput={(e) => search.setQuery(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') {
            e.preventDefault();
            if (search.query !== '') search.setQuery('');
            else {
              search.clear();
              e.currentTarget.blur();
            }
            return;
          }
          moveFocus(e, e.currentTarget, input.current);
        }}
      />
      {search.active && <SearchFilters />}
    </div>
  );
}

const DATES: { value: DatePreset; label: string }[] = [
  { value: 'any', label: 'Any time' },
  { value: '7', label: 'Last 7 days' },
  { value: '30', label: 'Last 30 days' },
  { value: 'custom', label: 'Choose dates' },
];

function SearchFilters(): JSX.Element {
  const store = useApp();
  const search = store.search;
  const f = search.filters;
  const c = f.conversation !== null ? store.conversations.get(f.conversation) : undefined;
  const members = f.conversation !== null ? store.members.get(f.conversation) : undefined;
  const me = store.me?.id;

  useEffect(() => {
    if (f.conversation !== null && members === undefined) void store.loadMembers(f.conversation);
  }, [f.conversation, members === undefined]);

  return (
    <div class="search-filters" data-testid="search-filters">
      {f.conversation !== null && (
        <span class="filter-chip" data-testid="search-chat-chip">
          <span class="filter-chip-text">
            In: {c !== undefined ? chatTitle(c, me, store.users) : 'this chat'}
          </span>
          <button
            class="filter-chip-remove"
            aria-label="Search all chats"
            title="Search all chats"
            onClick={() => search.setFilters({ conversation: null })}
          >
            <Icon name="close" size={16} />
          </button>
        </span>
      )}
      {f.conversation !== null && members !== undefined && (
        <select
          class="filter-select"
          aria-label="Sender"
          data-testid="search-sender"
          value={f.sender ?? ''}
          onChange={(e) => search.setFilters({ sender: e.currentTarget.value || null })}
        >
          <option value="">Anyone</option>
          {members.map((m) => (
            <option key={m.userId} value={m.userId}>
              {m.userId === me ? 'You' : m.displayName}
            </option>
          ))}
        </select>
      )}
      <select
        class="filter-select"
        aria-label="Date"
        data-testid="search-date"
        value={f.date}
        onChange={(e) => search.setFilters({ date: e.currentTarget.value as DatePreset })}
      >
        {DATES.map((d) => (
          <option key={d.value} value={d.value}>
            {d.label}
          </option>
        ))}
      </select>
      {f.date === 'custom' && (
        <span class="filter-dates">
          <label>
            Start date
            <input
              type="date"
              value={f.from}
              max={f.to || undefined}
              onChange={(e) => search.setFilters({ from: e.currentTarget.value })}
            />
          </label>
          <label>
            End date
            <input
              type="date"
              value={f.to}
              min={f.from || undefined}
              onChange={(e) => search.setFilters({ to: e.currentTarget.value })}
            />
          </label>
        </span>
      )}
    </div>
  );
}

function senderName(store: AppStore, hit: SearchHit, c: Conversation | undefined): string {
  const id = hit.message.senderId;
  if (id === store.me?.id) return 'You';
  const known = store.users.get(id)?.displayName;
  if (known !== undefined) return known;
  return c?.peer?.id === id ? c.name : 'Someone';
}

function Hit({ hit }: { hit: SearchHit }): JSX.Element {
  const store = useApp();
  const c = store.conversations.get(hit.conversationId);
  const name = c !== undefined ? chatTitle(c, store.me?.id, store.users) : 'Chat';
  const sender = senderName(store, hit, c);
  const m = hit.message;
  const open = () => navigate({ chat: hit.conversationId, message: hit.seq, info: false, panel: null });
  return (
    <li>
      <a
        href={`#/c/${encodeURIComponent(hit.conversationId)}/m/${hit.seq}`}
        class={`conv hit ${store.route.chat === hit.conversationId ? 'active' : ''}`}
        data-result=""
        data-testid="search-hit"
        data-seq={hit.seq}
        data-conversation={hit.conversationId}
        onClick={(e) => {
          e.preventDefault();
          open();
        }}
      >
        <Avatar id={c?.peer?.id ?? hit.conversationId} name={c?.name ?? name} />
        <span class="conv-main">
          <span class="conv-top">
            <span class="conv-name">{name}</span>
            <span class="conv-time">{formatListTime(m.createdAt)}</span>
          </span>
          <span class="hit-text" data-testid="search-hit-text">
            <span class="hit-sender">{sender}: </span>
            {snippet(m.text, hit.highlights).map((p, i) =>
              p.match ? <mark key={i}>{p.text}</mark> : p.text,
            )}
          </span>
        </span>
      </a>
    </li>
  );
}

/** What the search found, instead of the chat list. `chats`: chats whose name matches. */
export function SearchResults({ chats }: { chats: JSX.Element | null }): JSX.Element {
  const store = useApp();
  const search = store.search;
  const inChat = search.filters.conversation;

  // Names of the senders of hits in groups come with the groups' members.
  const groups = new Set(
    search.hits
      .filter((h) => !store.users.has(h.message.senderId) && !store.members.has(h.conversationId))
      .map((h) => h.conversationId),
  );
  const want = [...groups].join(' ');
  useEffect(() => {
    for (const id of groups) {
      if (store.conversations.get(id)?.kind === 'group') void store.loadMembers(id);
    }
  }, [want]);

  const c = inChat !== null ? store.conversations.get(inChat) : undefined;
  let body: JSX.Element | null = null;
  if (search.query.trim() === '') {
    body = (
      <p class="empty">
        Type to search messages{c !== undefined ? ` in ${chatTitle(c, store.me?.id, store.users)}` : ''}.
      </p>
    );
  } else if (search.status === 'error') {
    body = (
      <div class="empty" role="alert">
        <p>Search failed: {search.error}</p>
        <button class="link" onClick={() => search.setQuery(search.query)}>
          Try again
        </button>
      </div>
    );
  } else if (search.hits.length === 0) {
    body = (
      <p class="empty" role="status">
        {search.status === 'done' ? 'No results' : 'Searching…'}
      </p>
    );
  }

  return (
    <nav
      class="conv-list search-results"
      id="search-results"
      aria-label="Search results"
      aria-busy={search.status === 'loading'}
      data-testid="search-results"
      onKeyDown={(e) => {
        if (e.key === 'Escape') {
          e.preventDefault();
          document.getElementById('search-field')?.focus();
          return;
        }
        moveFocus(e, e.currentTarget, document.getElementById('search-field') as HTMLInputElement | null);
      }}
    >
      {chats}
      {search.query.trim() !== '' && <h2 class="search-section">Messages</h2>}
      {body}
      {search.hits.length > 0 && (
        <ul aria-label="Messages found" data-testid="search-hits">
          {search.hits.map((h) => (
            <Hit key={`${h.conversationId}/${h.seq}`} hit={h} />
          ))}
        </ul>
      )}
      {search.cursor !== null && search.hits.length > 0 && (
        <div class="load-more">
          <button
            class="link"
            data-result=""
            disabled={search.status === 'loading'}
            onClick={() => void search.more()}
          >
            {search.status === 'loading' ? 'Loading…' : 'Load more'}
          </button>
        </div>
      )}
    </nav>
  );
}
