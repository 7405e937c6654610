/** What shows in place of the composer when I can't write: a group I left, or a contact I blocked. */
import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import type { Conversation } from '@parley/client';
import { app, errorText } from '../state/store.js';
import type { AppStore } from '../state/store.js';
import { useConfirm } from './dialog.js';
import type { ConfirmRequest } from './dialog.js';
import { useApp } from './use-app.js';

/** The question asked before deleting a chat I left from my list (on every device). */
export function deleteChatConfirm(
  c: Conversation,
  run: (f: () => Promise<void>) => Promise<void>,
): ConfirmRequest {
  return {
    title: 'Delete chat?',
    message: `"${c.name}" and its messages will be removed from this list on all your devices.`,
    confirm: 'Delete chat',
    onConfirm: () => void run(() => app.deleteChat(c.id)),
  };
}

/** The line at the end of a left group's history: "You left" or "Ana removed you". */
export function leftLine(c: Conversation): string | null {
  if (c.left === undefined) return null;
  return c.left.by === null ? 'You left' : `${c.left.by.displayName} removed you`;
}

/** The chat takes no messages from me: a group I left, or a 1:1 with someone I blocked. */
export function readOnly(store: AppStore, c: Conversation): boolean {
  return c.left !== undefined || blockedPeer(store, c) !== null;
}

function blockedPeer(store: AppStore, c: Conversation): string | null {
  const peer = c.kind === 'direct' ? c.peer : undefined;
  return peer !== undefined && peer.id !== store.me?.id && store.isBlocked(peer.id) ? peer.id : null;
}

/**
 * Above the composer of a message request: who is writing, and accept, block or delete.
 * Replying accepts too.
 */
export function RequestBar({ c }: { c: Conversation }): JSX.Element {
  const [busy, setBusy] = useState(false);
  const [dialog, ask] = useConfirm();
  const peer = c.peer;
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    try {
      await f();
    } catch (err) {
      app.toast(errorText(err));
    }
    setBusy(false);
  };
  return (
    <div class="request-bar" data-testid="request-bar" role="region" aria-label="Message request">
      <p>
        <strong>{c.name}</strong>
        {peer !== undefined && <span class="request-username"> @{peer.username}</span>} is not in your
        contacts and wants to message you. They can't see when you're online until you accept.
      </p>
      <div class="request-actions">
        <button class="primary" disabled={busy} onClick={() => void run(() => app.acceptRequest(c.id))}>
          Accept
        </button>
        <button
          class="link danger"
          disabled={busy || peer === undefined}
          onClick={() =>
            ask({
              title: `Block ${c.name}?`,
              message: 'They will not be able to message you, and this request is removed.',
              confirm: 'Block',
              onConfirm: () => void run(() => (peer === undefined ? Promise.resolve() : app.block(peer.id))),
            })
          }
        >
          Block
        </button>
        <button
          class="link danger"
          disabled={busy}
          onClick={() =>
            ask({
              title: 'Delete request?',
              message: `The request from ${c.name} is removed from your list. A new message from them brings it back.`,
              confirm: 'Delete',
              onConfirm: () => void run(() => app.deleteChat(c.id)),
            })
          }
        >
          Delete
        </button>
      </div>
      {dialog}
    </div>
  );
}

export function ReadOnlyBar({ c }: { c: Conversation }): JSX.Element | null {
  const store = useApp();
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
        <button class="link danger" disabled={busy} onClick={() => ask(deleteChatConfirm(c, run))}>
          Delete chat
        </button>
        {dialog}
      </div>
    );
  }
  const peer = blockedPeer(store, c);
  if (peer === null) return null;
  return (
    <div class="readonly-bar" data-testid="readonly-bar" role="status">
      <span>You blocked this contact</span>
      <button class="link" disabled={busy} onClick={() => void run(() => app.unblock(peer))}>
        Unblock
      </button>
    </div>
  );
}
