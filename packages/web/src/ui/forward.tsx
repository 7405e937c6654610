/** Forward a message: pick one or more chats (searched by name), then send it to them. */
import type { Conversation, Message } from '@parley/client';
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { MAX_FORWARD_TARGETS } from '../lib/actions.js';
import { errorText } from '../state/store.js';
import { Modal } from './dialog.js';
import { focusOnMount } from './focus.js';
import { chatTitle } from './sidebar.js';
import { useApp } from './use-app.js';

export function ForwardDialog(props: { from: Conversation; m: Message; onClose: () => void }): JSX.Element {
  const store = useApp();
  const me = store.me?.id;
  const [query, setQuery] = useState('');
  const [chosen, setChosen] = useState<ReadonlySet<string>>(() => new Set());
  const [busy, setBusy] = useState(false);
  const q = query.trim().toLowerCase();
  const chats = [...store.conversations.values()]
    .filter((c) => c.left === undefined && c.request !== true)
    .filter((c) => q === '' || chatTitle(c, me, store.users).toLowerCase().includes(q))
    .sort((a, b) => b.lastActivityAt - a.lastActivityAt)
    .slice(0, 50);

  const toggle = (id: string) =>
    setChosen((s) => {
      const next = new Set(s);
      if (!next.delete(id) && next.size < MAX_FORWARD_TARGETS) next.add(id);
      return next;
    });

  async function submit(): Promise<void> {
    if (chosen.size === 0 || busy) return;
    setBusy(true);
    try {
      await store.forward(props.from.id, props.m.seq, [...chosen]);
      props.onClose();
    } catch (err) {
      store.toast(`Not forwarded: ${errorText(err)}`);
      setBusy(false);
    }
  }

  return (
    <Modal title="Forward to…" onClose={props.onClose}>
      <form
        class="forward"
        data-testid="forward-dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <input
          ref={focusOnMount}
          type="search"
          placeholder="Search chats"
          aria-label="Search chats"
          value={query}
          onInput={(e) => setQuery(e.currentTarget.value)}
        />
        <ul class="pick-list" aria-label="Chats">
          {chats.map((c) => (
            <li key={c.id}>
              <label>
                <input type="checkbox" checked={chosen.has(c.id)} onChange={() => toggle(c.id)} />
                {chatTitle(c, me, store.users)}
              </label>
            </li>
          ))}
        </ul>
        <button
          class="primary small"
          type="submit"
          disabled={chosen.size === 0 || busy}
          data-testid="forward-send"
        >
          {chosen.size > 1 ? `Forward to ${chosen.size} chats` : 'Forward'}
        </button>
      </form>
    </Modal>
  );
}
