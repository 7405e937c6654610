/**
 * A message's menu (reply, react, edit, delete, forward, pin, save, copy link): opened from the
 * bubble's hover button, a right-click or a long press. A WAI-ARIA menu: arrow keys move, Escape
 * closes and gives focus back to what opened it.
 */
import type { Conversation, Message } from '@parley/client';
import type { JSX } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { canDeleteForEveryone, canEdit, canPin, messageLink, QUICK_REACTIONS } from '../lib/actions.js';
import { Modal } from './dialog.js';
import { focusOnMount } from './focus.js';

export type MenuChoice =
  | 'reply'
  | 'edit'
  | 'delete-me'
  | 'delete-all'
  | 'forward'
  | 'pin'
  | 'unpin'
  | 'save'
  | 'unsave'
  | 'copy'
  | 'more-reactions'
  | { react: string };

interface Item {
  label: string;
  choice: MenuChoice;
  danger?: boolean;
}

function itemsFor(c: Conversation, m: Message, me: string): Item[] {
  const items: Item[] = [];
  if (m.deleted !== true) {
    items.push({ label: 'Reply', choice: 'reply' });
    if (canEdit(m, me)) items.push({ label: 'Edit', choice: 'edit' });
    items.push({ label: 'Forward', choice: 'forward' });
    if (canPin(c))
      items.push(
        m.pinnedAt !== undefined ? { label: 'Unpin', choice: 'unpin' } : { label: 'Pin', choice: 'pin' },
      );
  }
  items.push(m.saved === true ? { label: 'Unsave', choice: 'unsave' } : { label: 'Save', choice: 'save' });
  if (m.deleted !== true) items.push({ label: 'Copy link', choice: 'copy' });
  items.push({ label: 'Delete for me', choice: 'delete-me', danger: true });
  if (m.deleted !== true && canDeleteForEveryone(c, m, me)) {
    items.push({ label: 'Delete for everyone', choice: 'delete-all', danger: true });
  }
  return items;
}

export function MessageMenu(props: {
  c: Conversation;
  m: Message;
  me: string;
  /** Where to open, in viewport pixels. */
  at: { x: number; y: number };
  onChoose: (choice: MenuChoice) => void;
  onClose: () => void;
}): JSX.Element {
  const { c, m, me } = props;
  const ref = useRef<HTMLDivElement>(null);
  const [pos, setPos] = useState(props.at);
  // Taken before the menu moves focus to its first item: focus goes back there on close.
  const [opener] = useState(() => document.activeElement as HTMLElement | null);
  const items = itemsFor(c, m, me);
  const react = m.deleted !== true;

  useLayoutEffect(() => {
    const el = ref.current;
    if (el === null) return;
    // Keep the whole menu on screen.
    const r = el.getBoundingClientRect();
    const x = Math.max(8, Math.min(props.at.x, window.innerWidth - r.width - 8));
    const y = Math.max(8, Math.min(props.at.y, window.innerHeight - r.height - 8));
    if (x !== pos.x || y !== pos.y) setPos({ x, y });
    el.querySelector<HTMLElement>('[role=menuitem]')?.focus();
  }, []);

  useEffect(() => {
    const away = (e: Event) => {
      if (ref.current !== null && !ref.current.contains(e.target as Node)) props.onClose();
    };
    document.addEventListener('pointerdown', away, true);
    return () => {
      document.removeEventListener('pointerdown', away, true);
      if (opener !== null && opener.isConnected) opener.focus();
    };
  }, []);

  function onKeyDown(e: KeyboardEvent): void {
    const all = [...(ref.current?.querySelectorAll<HTMLElement>('[role=menuitem]') ?? [])];
    const at = all.indexOf(document.activeElement as HTMLElement);
    let next = -1;
    if (e.key === 'Escape' || e.key === 'Tab') {
      e.preventDefault();
      e.stopPropagation();
      props.onClose();
      return;
    }
    if (e.key === 'ArrowDown') next = (at + 1) % all.length;
    else if (e.key === 'ArrowUp') next = (at - 1 + all.length) % all.length;
    else if (e.key === 'ArrowRight' && at >= 0 && at < QUICK_REACTIONS.length + 1)
      next = Math.min(at + 1, all.length - 1);
    else if (e.key === 'ArrowLeft' && at > 0 && at <= QUICK_REACTIONS.length) next = at - 1;
    else if (e.key === 'Home') next = 0;
    else if (e.key === 'End') next = all.length - 1;
    else return;
    e.preventDefault();
    all[next]?.focus();
  }

  const choose = (choice: MenuChoice) => {
    props.onClose();
    props.onChoose(choice);
  };

  return (
    <div
      ref={ref}
      class="msg-menu"
      role="menu"
      aria-label="Message actions"
      data-testid="message-menu"
      style={{ left: `${pos.x}px`, top: `${pos.y}px` }}
      onKeyDown={onKeyDown}
      onContextMenu={(e) => e.preventDefault()}
    >
      {react && (
        <div class="quick-reactions" role="group" aria-label="React">
          {QUICK_REACTIONS.map((emoji) => {
            const mine = m.reactions?.some((r) => r.emoji === emoji && r.userIds.includes(me)) === true;
            return (
              <button
                key={emoji}
                type="button"
                role="menuitem"
                tabIndex={-1}
                class={`quick ${mine ? 'mine' : ''}`}
                aria-label={`${mine ? 'Remove reaction' : 'React with'} ${emoji}`}
                onClick={() => choose({ react: emoji })}
              >
                {emoji}
              </button>
            );
          })}
          <button
            type="button"
            role="menuitem"
            tabIndex={-1}
            class="quick more"
            aria-label="More reactions"
            onClick={() => choose('more-reactions')}
          >
            +
          </button>
        </div>
      )}
      {items.map((it) => (
        <button
          key={it.label}
          type="button"
          role="menuitem"
          tabIndex={-1}
          class={`menu-item ${it.danger === true ? 'danger' : ''}`}
          onClick={() => choose(it.choice)}
        >
          {it.label}
        </button>
      ))}
    </div>
  );
}

/** Any emoji, typed or pasted. */
export function EmojiDialog(props: { onPick: (emoji: string) => void; onClose: () => void }): JSX.Element {
  const [value, setValue] = useState('');
  const emoji = firstGrapheme(value.trim());
  return (
    <Modal title="React with an emoji" onClose={props.onClose}>
      <form
        class="emoji-form"
        onSubmit={(e) => {
          e.preventDefault();
          if (emoji === '') return;
          props.onClose();
          props.onPick(emoji);
        }}
      >
        <label>
          Emoji
          <input
            ref={focusOnMount}
            data-testid="emoji-input"
            value={value}
            onInput={(e) => setValue(e.currentTarget.value)}
            autocomplete="off"
          />
        </label>
        <button class="primary small" type="submit" disabled={emoji === ''}>
          React
        </button>
      </form>
    </Modal>
  );
}

function firstGrapheme(s: string): string {
  const seg = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
  for (const { segment } of seg.segment(s)) return segment;
  return '';
}

/** Copy a message's link; a toast says it worked. */
export async function copyLink(conversationId: string, seq: number): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(
      `${location.origin}${location.pathname}${messageLink(conversationId, seq)}`,
    );
    return true;
  } catch {
    return false;
  }
}
