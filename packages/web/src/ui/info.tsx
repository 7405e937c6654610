/** The conversation info drawer: a group's members (with presence) and actions, or the peer of a 1:1. */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { Conversation, Member } from '@parley/client';
import { MAX_GROUP_MEMBERS } from '@parley/protocol';
import { formatLastSeen, mutedNow, mutedText } from '../lib/format.js';
import { distinctName } from '../lib/names.js';
import { back } from '../lib/route.js';
import { app, errorText } from '../state/store.js';
import { Avatar } from './avatar.js';
import { deleteChatConfirm, leftLine } from './chat-bars.js';
import { useConfirm } from './dialog.js';
import type { ConfirmRequest } from './dialog.js';
import { Icon } from './icons.js';
import { useApp } from './use-app.js';
import { focusOnMount } from './focus.js';

export function InfoDrawer({ id }: { id: string }): JSX.Element | null {
  const store = useApp();
  const c = store.conversations.get(id);
  const closeRef = useRef<HTMLButtonElement>(null);
  useEffect(() => closeRef.current?.focus(), []);
  if (c === undefined) return null;
  return (
    <aside
      class="drawer info"
      aria-label={c.kind === 'group' ? 'Group info' : 'Contact info'}
      onKeyDown={(e) => {
        if (e.key === 'Escape') back({ info: false });
      }}
    >
      <header class="bar">
        <button class="icon-btn" ref={closeRef} onClick={() => back({ info: false })} aria-label="Close info">
          <Icon name="close" />
        </button>
        <h2 class="bar-title">{c.kind === 'group' ? 'Group info' : 'Contact info'}</h2>
      </header>
      <div class="drawer-body">
        {c.kind === 'group' ? <GroupInfo key={c.id} c={c} /> : <DirectInfo c={c} />}
        <MuteControl c={c} />
      </div>
    </aside>
  );
}

const HOUR = 3_600_000;

/**
 * Mute this conversation's notifications for a while or until unmuted (for me only), with or
 * without the messages that mention me.
 */
function MuteControl({ c }: { c: Conversation }): JSX.Element {
  const [busy, setBusy] = useState(false);
  // Before muting: the choice for the next mute; while muted, the mute's own.
  const [withMentions, setWithMentions] = useState(false);
  const run = async (f: () => Promise<void>) => {
    setBusy(true);
    try {
      await f();
    } catch (err) {
      app.toast(errorText(err));
    }
    setBusy(false);
  };
  const muted = mutedNow(c);
  const mentionsMuted = muted ? c.mutedMentions === true : withMentions;
  const setMentionsMuted = (on: boolean) => {
    setWithMentions(on);
    // Muted already: mute again for the same time, with or without mentions.
    if (muted) void run(() => app.mute(c.id, c.mutedUntil ?? null, on));
  };
  return (
    <section class="mute" data-testid="mute" aria-label="Notifications">
      <h3 class="section-title">Notifications</h3>
      {muted ? (
        <div class="toggle-row">
          <Icon name="bellOff" size={20} />
          <span data-testid="mute-state">{mutedText(c)}</span>
          <button class="secondary small" disabled={busy} onClick={() => void run(() => app.unmute(c.id))}>
            Unmute
          </button>
        </div>
      ) : (
        <div class="toggle-row">
          <Icon name="bell" size={20} />
          <span>Mute</span>
          <button
            class="link small"
            disabled={busy}
            onClick={() => void run(() => app.mute(c.id, Date.now() + 8 * HOUR, withMentions))}
          >
            8 hours
          </button>
          <button
            class="link small"
            disabled={busy}
            onClick={() => void run(() => app.mute(c.id, Date.now() + 168 * HOUR, withMentions))}
          >
            1 week
          </button>
          <button
            class="link small"
            disabled={busy}
            onClick={() => void run(() => app.mute(c.id, null, withMentions))}
          >
            Always
          </button>
        </div>
      )}
      <label class="toggle-row">
        <span>Also mute @mentions</span>
        <input
          type="checkbox"
          data-testid="mute-mentions"
          checked={mentionsMuted}
          disabled={busy}
          onChange={(e) => setMentionsMuted(e.currentTarget.checked)}
        />
      </label>
    </section>
  );
}

function presenceText(userId: string): string {
  if (userId === app.me?.id) return '';
  const p = app.presence.get(userId);
  if (p === undefined) return '';
  return p.online ? 'online' : formatLastSeen(p.lastActiveAt);
}

function DirectInfo({ c }: { c: Conversation }): JSX.Element {
  const store = useApp();
  const peer = c.peer;
  const [busy, setBusy] = useState(false);
  if (peer === undefined) return <p class="muted">Unknown user</p>;
  const contacts = store.contacts;
  const blocked = contacts?.blocked.some((u) => u.id === peer.id) ?? false;
  const isContact = contacts?.contacts.some((x) => x.user.id === peer.id) ?? false;
  const outgoing = contacts?.outgoing.some((u) => u.id === peer.id) ?? false;
  const self = peer.id === store.me?.id;
  const [dialog, ask] = useConfirm();

  const run = async (f: () => Promise<unknown>) => {
    setBusy(true);
    await f();
    setBusy(false);
  };
  const http = app.client?.http;

  return (
    <>
      <div class="profile">
        <Avatar id={peer.id} name={peer.displayName} size={120} />
        <h3 class="profile-name">{peer.displayName}</h3>
        <p class="muted">@{peer.username}</p>
        <p class="presence-line">{presenceText(peer.id)}</p>
      </div>
      {!self && http !== undefined && (
        <div class="actions">
          {!isContact && !outgoing && !blocked && (
            <button
              class="action"
              disabled={busy}
              onClick={() =>
                void run(() => app.contactAction(() => http.requestContact({ userId: peer.id })))
              }
            >
              <Icon name="contacts" /> Add to contacts
            </button>
          )}
          {outgoing && <p class="muted">Contact request sent</p>}
          {blocked ? (
            <button class="action" disabled={busy} onClick={() => void run(() => app.unblock(peer.id))}>
              <Icon name="block" /> Unblock {peer.displayName}
            </button>
          ) : (
            <button
              class="action danger"
              disabled={busy}
              onClick={() =>
                ask({
                  title: `Block ${peer.displayName}?`,
                  message:
                    'Blocked users cannot message you or add you to groups, and you stop seeing each other online.',
                  confirm: 'Block',
                  onConfirm: () => void run(() => app.block(peer.id)),
                })
              }
            >
              <Icon name="block" /> Block {peer.displayName}
            </button>
          )}
        </div>
      )}
      {dialog}
    </>
  );
}

function GroupInfo({ c }: { c: Conversation }): JSX.Element {
  const store = useApp();
  const me = store.me?.id ?? '';
  const members = store.members.get(c.id);
  const admin = c.role === 'admin';
  const [name, setName] = useState(c.name);
  const [editing, setEditing] = useState(false);
  const [adding, setAdding] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [dialog, ask] = useConfirm();
  const left = leftLine(c);

  // Members and their presence are fetched when the drawer opens (groups get no live presence).
  useEffect(() => {
    if (c.left !== undefined) return;
    void app.loadMembers(c.id).then((ms) => {
      if (ms !== undefined) void app.refreshPresence(ms.map((m) => m.userId));
    });
  }, [c.id]);

  async function run(f: () => Promise<unknown>): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      await f();
    } catch (err) {
      setError(errorText(err));
    }
    setBusy(false);
  }

  return (
    <div class="group-info">
      <div class="profile">
        <Avatar id={c.id} name={c.name} size={120} />
        {editing ? (
          <form
            class="inline-form"
            onSubmit={(e) => {
              e.preventDefault();
              void run(async () => {
                await app.rename(c.id, name);
                setEditing(false);
              });
            }}
          >
            <input
              aria-label="Group name"
              value={name}
              maxLength={64}
              onInput={(e) => setName(e.currentTarget.value)}
              ref={focusOnMount}
            />
            <button class="primary small" disabled={busy || name.trim() === ''}>
              Save
            </button>
          </form>
        ) : (
          <h3 class="profile-name">
            {c.name}
            {admin && (
              <button class="link small" onClick={() => setEditing(true)}>
                Rename
              </button>
            )}
          </h3>
        )}
        <p class="muted">
          Group · {c.memberCount} {c.memberCount === 1 ? 'member' : 'members'}
        </p>
      </div>
      {error !== null && (
        <p class="error" role="alert">
          {error}
        </p>
      )}
      {admin && c.memberCount < MAX_GROUP_MEMBERS && (
        <form
          class="inline-form add-member"
          onSubmit={(e) => {
            e.preventDefault();
            const usernames = adding
              .split(/[\s,]+/)
              .map((u) => u.trim().replace(/^@/, '').toLowerCase())
              .filter((u) => u !== '');
            if (usernames.length === 0) return;
            void run(async () => {
              await app.addMembers(c.id, usernames);
              setAdding('');
              const ms = app.members.get(c.id);
              if (ms !== undefined) void app.refreshPresence(ms.map((m) => m.userId));
            });
          }}
        >
          <input
            aria-label="Add members by username"
            placeholder="Add members by username"
            value={adding}
            autocapitalize="none"
            spellcheck={false}
            onInput={(e) => setAdding(e.currentTarget.value)}
          />
          <button class="primary small" disabled={busy || adding.trim() === ''}>
            Add
          </button>
        </form>
      )}
      {left !== null ? (
        <>
          <p class="muted pad" data-testid="left-note">
            {left}. You can read the messages up to then.
          </p>
          <div class="actions">
            <button class="action danger" disabled={busy} onClick={() => ask(deleteChatConfirm(c, run))}>
              <Icon name="close" /> Delete chat
            </button>
          </div>
        </>
      ) : (
        <MemberSection c={c} me={me} admin={admin} busy={busy} members={members} run={run} ask={ask} />
      )}
      {dialog}
    </div>
  );
}

function MemberSection(props: {
  c: Conversation;
  me: string;
  admin: boolean;
  busy: boolean;
  members: Member[] | undefined;
  run: (f: () => Promise<unknown>) => Promise<void>;
  ask: (request: ConfirmRequest) => void;
}): JSX.Element {
  const { c, me, admin, busy, members, run, ask } = props;
  const sorted = [...(members ?? [])].sort(
    (a, b) =>
      Number(b.userId === me) - Number(a.userId === me) ||
      Number(b.role === 'admin') - Number(a.role === 'admin') ||
      a.displayName.localeCompare(b.displayName),
  );
  return (
    <>
      <h3 class="section-title">{members === undefined ? 'Members' : `${members.length} members`}</h3>
      {members === undefined ? (
        <p class="muted">Loading members…</p>
      ) : (
        <ul class="people" data-testid="members">
          {sorted.map((m) => (
            <MemberRow
              key={m.userId}
              m={m}
              me={me}
              admin={admin}
              busy={busy}
              conversation={c}
              run={run}
              ask={ask}
            />
          ))}
        </ul>
      )}
      <div class="actions">
        <button
          class="action danger"
          disabled={busy}
          onClick={() =>
            ask({
              title: `Leave "${c.name}"?`,
              message:
                'The group stays in your list with its messages up to now, but you can no longer write.',
              confirm: 'Leave group',
              onConfirm: () => void run(() => app.leave(c.id)),
            })
          }
        >
          <Icon name="logout" /> Leave group
        </button>
      </div>
    </>
  );
}

function MemberRow(props: {
  m: Member;
  me: string;
  admin: boolean;
  busy: boolean;
  conversation: Conversation;
  run: (f: () => Promise<unknown>) => Promise<void>;
  ask: (request: ConfirmRequest) => void;
}): JSX.Element {
  const { m, me, admin, busy, conversation: c, run, ask } = props;
  const self = m.userId === me;
  const online = !self && app.presence.get(m.userId)?.online === true;
  return (
    <li class="person" data-testid="member" data-username={m.username}>
      <Avatar id={m.userId} name={m.displayName} size={40} online={online} />
      <span class="person-main">
        <span class="person-name">
          {self
            ? 'You'
            : distinctName({ id: m.userId, username: m.username, displayName: m.displayName }, app.users)}
        </span>
        <span class="person-sub">{self ? `@${m.username}` : presenceText(m.userId) || `@${m.username}`}</span>
      </span>
      {m.role === 'admin' && <span class="tag">Admin</span>}
      {admin && !self && (
        <span class="person-actions">
          {m.role !== 'admin' && (
            <button
              class="link small"
              disabled={busy}
              onClick={() => void run(() => app.promote(c.id, m.userId))}
            >
              Make admin
            </button>
          )}
          <button
            class="link small danger"
            disabled={busy}
            aria-label={`Remove ${m.displayName}`}
            onClick={() =>
              ask({
                title: `Remove ${m.displayName}?`,
                message: `${m.displayName} will no longer be in "${c.name}". They keep the messages up to now.`,
                confirm: 'Remove',
                onConfirm: () => void run(() => app.removeMember(c.id, m.userId)),
              })
            }
          >
            Remove
          </button>
        </span>
      )}
    </li>
  );
}
