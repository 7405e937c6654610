/**
 * A chat's pinned messages: a bar above the history shows the latest pin (a click brings it
 * into view) and opens the list of all of them.
 */
import type { Conversation, Message } from '@parley/client';
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { formatListTime } from '../lib/format.js';
import type { AppStore } from '../state/store.js';
import { Modal } from './dialog.js';
import { Icon } from './icons.js';
import { Snippet, nameOf } from './message-parts.js';
import { useApp } from './use-app.js';

export function PinBar({ c }: { c: Conversation }): JSX.Element | null {
  const store = useApp();
  const pins = store.pinned.get(c.id) ?? [];
  const [listOpen, setListOpen] = useState(false);
  useEffect(() => void store.loadPins(c.id), [c.id]);
  const latest = pins[0];
  return (
    <>
      {latest !== undefined && (
        <div class="pin-bar" role="region" aria-label="Pinned messages" data-testid="pin-bar">
          <Icon name="pin" size={18} class="pin-icon" />
          <button
            type="button"
            class="pin-latest"
            data-testid="pin-latest"
            data-seq={latest.seq}
            onClick={() => void store.jumpTo(c.id, latest.seq)}
          >
            <span class="quote-name">
              {pins.length > 1 ? `Pinned message (${pins.length})` : 'Pinned message'}
            </span>
            <span class="quote-text">
              {nameOf(store, latest.senderId)}: <Snippet m={latest} />
            </span>
          </button>
          <button
            type="button"
            class="icon-btn"
            aria-label="All pinned messages"
            title="All pinned messages"
            data-testid="pins-open"
            onClick={() => setListOpen(true)}
          >
            <Icon name="list" />
          </button>
        </div>
      )}
      {listOpen && (
        <PinsDialog
          store={store}
          c={c}
          pins={pins}
          onOpen={(m) => {
            setListOpen(false);
            void store.jumpTo(c.id, m.seq);
          }}
          onClose={() => setListOpen(false)}
        />
      )}
    </>
  );
}

function PinsDialog(props: {
  store: AppStore;
  c: Conversation;
  pins: Message[];
  onOpen: (m: Message) => void;
  onClose: () => void;
}): JSX.Element {
  const { store, pins } = props;
  return (
    <Modal title="Pinned messages" onClose={props.onClose}>
      {pins.length === 0 ? (
        <p class="empty">No pinned messages.</p>
      ) : (
        <ul class="listed" aria-label="Pinned messages" data-testid="pins-list">
          {pins.map((m) => (
            <li key={m.seq}>
              <button
                type="button"
                class="listed-item"
                data-testid="pinned-item"
                data-seq={m.seq}
                autofocus={m === pins[0]}
                onClick={() => props.onOpen(m)}
              >
                <span class="listed-top">
                  <span class="listed-chat">{nameOf(store, m.senderId)}</span>
                  <time class="listed-time" dateTime={new Date(m.createdAt).toISOString()}>
                    {formatListTime(m.createdAt)}
                  </time>
                </span>
                <span class="listed-text">
                  <Snippet m={m} />
                </span>
              </button>
            </li>
          ))}
        </ul>
      )}
    </Modal>
  );
}
