/** Who received and who read one of my messages in a group (fetched when opened). */
import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Conversation, Message, MessageReceipts } from '@parley/client';
import { app, errorText } from '../state/store.js';
import { Avatar } from './avatar.js';
import { Modal } from './dialog.js';

export function MessageInfoDialog(props: {
  c: Conversation;
  message: Message;
  onClose: () => void;
}): JSX.Element {
  const [receipts, setReceipts] = useState<MessageReceipts | null>(null);
  const [error, setError] = useState<string | null>(null);
  const { c, message } = props;

  useEffect(() => {
    const client = app.client;
    if (client === null) return;
    client.http.receipts(c.id, message.seq).then(setReceipts, (err: unknown) => setError(errorText(err)));
    if (!app.members.has(c.id)) void app.loadMembers(c.id);
  }, [c.id, message.seq]);

  const name = (id: string) => app.users.get(id)?.displayName ?? 'Former member';
  const readSet = new Set(receipts?.read ?? []);
  const deliveredOnly = (receipts?.delivered ?? []).filter((id) => !readSet.has(id));
  const others = (app.members.get(c.id) ?? []).filter((m) => m.userId !== app.me?.id);
  const waiting = others.filter((m) => !readSet.has(m.userId) && !deliveredOnly.includes(m.userId));

  const section = (title: string, ids: string[]) => (
    <section class="receipt-section">
      <h3>
        {title} · {ids.length}
      </h3>
      {ids.length === 0 ? (
        <p class="muted">Nobody yet</p>
      ) : (
        <ul class="people">
          {ids.map((id) => (
            <li key={id} class="person">
              <Avatar id={id} name={name(id)} size={36} />
              <span class="person-name">{name(id)}</span>
            </li>
          ))}
        </ul>
      )}
    </section>
  );

  return (
    <Modal title="Message info" onClose={props.onClose}>
      <blockquote class="quoted">{message.text.slice(0, 300)}</blockquote>
      {error !== null && <p class="error">{error}</p>}
      {receipts === null && error === null ? (
        <p class="muted">Loading…</p>
      ) : (
        <div data-testid="receipts">
          {section('Read by', [...readSet])}
          {(deliveredOnly.length > 0 || readSet.size === 0) && section('Delivered to', deliveredOnly)}
          {waiting.length > 0 &&
            section(
              'Not delivered yet',
              waiting.map((m) => m.userId),
            )}
        </div>
      )}
    </Modal>
  );
}
