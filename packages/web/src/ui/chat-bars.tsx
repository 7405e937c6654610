/** What shows in place of the composer when I can't write: a group I left. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Conversation } from '@parley/client';
import { app, errorText } from '../state/store.js';
import type { AppStore } from '../state/store.js';
import { useConfirm } from './dialog.js';

/** The line at the end of a left group's history: "You left" or "Ana removed you". */
export function leftLine(c: Conversation): string | null {
  if (c.left === undefined) return null;
  return c.left.by === null ? 'You left' : `${c.left.by.displayName} removed you`;
}

/** The chat takes no messages from me: a group I left. */
export function readOnly(_store: AppStore, c: Conversation): boolean {
  return c.left !== undefined;
}

export function ReadOnlyBar({ c }: { c: Conversation }): JSX.Element | null {
  const [busy, setBusy] = useState(false);
  const [dialog, ask] = useConfirm();
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    try {
      await f();
    } catch (err) {
      app.toast(errorText(err));
    }
    setBusy(false);
  };

  if (c.left !== undefined) {
    const by = c.left.by;
    return (
      <div class="readonly-bar" data-testid="readonly-bar" role="status">
        <span>{by === null ? 'You left this group' : `${by.displayName} removed you`}</span>
        <button
          class="link danger"
          disabled={busy}
          onClick={() =>
            ask({
              title: 'Delete chat?',
              message: `"${c.name}" and its messages will be removed from this list on all your devices.`,
              confirm: 'Delete chat',
              onConfirm: () => void run(() => app.deleteChat(c.id)),
            })
          }
        >
          Delete chat
        </button>
        {dialog}
      </div>
    );
  }
  return null;
}
