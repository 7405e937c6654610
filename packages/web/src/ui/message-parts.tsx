/**
 * What a bubble shows besides its text: the quote of the message it replies to, the
 * "Forwarded" and "edited" labels, and the reaction chips; and a message's one-line snippet
 * in the pinned bar and the lists of messages.
 */
import type { Message, Reaction } from '@parley/client';
import type { JSX } from 'preact';
import { useMemo, useRef } from 'preact/hooks';
import { parseMarkup, plainText } from '../lib/markup.js';
import { Markup } from '../lib/markup-view.js';
import type { AppStore } from '../state/store.js';

/** Code units of a message shown in a snippet (one line shows less). */
const SNIPPET_CHARS = 300;

/**
 * The start of a message on one line, its markup shown (as elements and text nodes, links as
 * text: a snippet sits inside a button).
 */
export function Snippet({ m }: { m: Message }): JSX.Element {
  const blocks = useMemo(() => parseMarkup(m.text.slice(0, SNIPPET_CHARS)), [m.text]);
  if (m.deleted === true) return <span class="snippet deleted">This message was deleted</span>;
  return (
    <span class="snippet" dir="auto">
      <Markup blocks={blocks} plainLinks />
    </span>
  );
}

export function nameOf(store: AppStore, userId: string): string {
  if (userId === store.me?.id) return 'You';
  return store.users.get(userId)?.displayName ?? 'Former member';
}

/** The quoted message: its sender and start; a click brings the original into view. */
export function Quote(props: {
  store: AppStore;
  conversationId: string;
  replyTo: NonNullable<Message['replyTo']>;
}): JSX.Element {
  const { store, replyTo } = props;
  // The loaded original is newer than the snippet when edited since.
  const original = store.message(props.conversationId, replyTo.seq);
  const deleted = original?.deleted === true || replyTo.deleted === true;
  const text = deleted ? 'This message was deleted' : plainText(original?.text ?? replyTo.text);
  const name = nameOf(store, replyTo.senderId);
  return (
    <button
      type="button"
      class={`quote ${deleted ? 'deleted' : ''}`}
      data-testid="quote"
      aria-label={`Reply to ${name}: ${text}. Show the message`}
      onClick={(e) => {
        e.stopPropagation();
        void store.jumpTo(props.conversationId, replyTo.seq);
      }}
    >
      <span class="quote-name">{name}</span>
      <span class="quote-text" dir="auto">
        {text}
      </span>
    </button>
  );
}

/** Reaction chips: emoji and count, mine highlighted; a click adds or removes mine. */
export function Reactions(props: {
  store: AppStore;
  reactions: Reaction[];
  onToggle: (emoji: string, mine: boolean) => void;
}): JSX.Element {
  const { store } = props;
  const me = store.me?.id ?? '';
  const press = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  return (
    <div class="reactions" data-testid="reactions">
      {props.reactions.map((r) => {
        const mine = r.userIds.includes(me);
        const who = r.userIds.map((u) => nameOf(store, u)).join(', ');
        return (
          <button
            key={r.emoji}
            type="button"
            class={`reaction ${mine ? 'mine' : ''}`}
            data-testid="reaction"
            data-emoji={r.emoji}
            aria-pressed={mine}
            aria-label={`${r.emoji} ${r.count}: ${who}`}
            title={who}
            onClick={() => props.onToggle(r.emoji, mine)}
            onTouchStart={() => {
              clearTimeout(press.current);
              press.current = setTimeout(() => store.toast(`${r.emoji} ${who}`), 500);
            }}
            onTouchEnd={() => clearTimeout(press.current)}
            onTouchMove={() => clearTimeout(press.current)}
          >
            <span class="emoji">{r.emoji}</span>
            <span class="count">{r.count}</span>
          </button>
        );
      })}
    </div>
  );
}
