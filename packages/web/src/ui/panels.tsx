/**
 * Left-hand panels (full screens on a phone): new chat, new group, contacts, settings; the
 * Saved and Mentions lists are in message-lists.tsx.
 */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import type { Device, PrivacySettings, User } from '@parley/client';
import { MAX_GROUP_MEMBERS, USERNAME_PATTERN } from '@parley/protocol';
import { formatLastSeen, formatListTime } from '../lib/format.js';
import { navigate } from '../lib/route.js';
import type { Panel } from '../lib/route.js';
import { app, errorText } from '../state/store.js';
import { Avatar } from './avatar.js';
import { useConfirm } from './dialog.js';
import { Icon } from './icons.js';
import { useApp } from './use-app.js';
import { focusOnMount } from './focus.js';
import { ListPanel } from './message-lists.js';
import { PanelFrame } from './panel-frame.js';

export function PanelView({ panel }: { panel: Panel }): JSX.Element {
  switch (panel) {
    case 'new':
      return <NewChatPanel />;
    case 'group':
      return <NewGroupPanel />;
    case 'contacts':
      return <ContactsPanel />;
    case 'settings':
      return <SettingsPanel />;
    case 'saved':
    case 'mentions':
      return <ListPanel key={panel} kind={panel} />;
    default: {
      const never: never = panel;
      return never;
    }
  }
}

function openChat(id: string): void {
  // Replace the panel's entry: back from the chat returns to the list, not the panel.
  navigate({ chat: id, info: false, panel: null }, { replace: true });
}

function cleanUsername(s: string): string {
  return s.trim().replace(/^@/, '').toLowerCase();
}

function presenceLine(userId: string): string {
  const p = app.presence.get(userId);
  if (p === undefined) return '';
  return p.online ? 'online' : formatLastSeen(p.lastActiveAt);
}

function NewChatPanel(): JSX.Element {
  const store = useApp();
  const [username, setUsername] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function start(name: string): Promise<void> {
    setBusy(true);
    setError(null);
    try {
      const c = await app.startDirect(name);
      openChat(c.id);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  }

  const contacts = store.contacts?.contacts ?? [];
  return (
    <PanelFrame title="New chat" testid="panel-new">
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          const u = cleanUsername(username);
          if (!USERNAME_PATTERN.test(u)) {
            setError('Enter a username (3-32 characters of a-z, 0-9, "_" and ".").');
            return;
          }
          void start(u);
        }}
      >
        <label>
          <span>Username</span>
          <input
            name="username"
            placeholder="e.g. ada"
            autocapitalize="none"
            spellcheck={false}
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
            ref={focusOnMount}
          />
        </label>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" disabled={busy || username.trim() === ''}>
          Start chat
        </button>
      </form>
      {contacts.length > 0 && (
        <>
          <h2 class="section-title">Contacts</h2>
          <ul class="people">
            {contacts.map(({ user }) => (
              <li key={user.id}>
                <button class="person person-btn" onClick={() => void start(user.username)} disabled={busy}>
                  <Avatar
                    id={user.id}
                    name={user.displayName}
                    size={40}
                    online={store.presence.get(user.id)?.online}
                  />
                  <span class="person-main">
                    <span class="person-name">{user.displayName}</span>
                    <span class="person-sub">{presenceLine(user.id) || `@${user.username}`}</span>
                  </span>
                </button>
              </li>
            ))}
          </ul>
        </>
      )}
    </PanelFrame>
  );
}

function NewGroupPanel(): JSX.Element {
  const store = useApp();
  const [name, setName] = useState('');
  const [picked, setPicked] = useState<User[]>([]);
  const [entry, setEntry] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const max = MAX_GROUP_MEMBERS - 1;

  async function addUsername(raw: string): Promise<void> {
    const u = cleanUsername(raw);
    if (u === '') return;
    setError(null);
    if (picked.some((p) => p.username === u)) {
      setEntry('');
      return;
    }
    if (picked.length >= max) {
      setError(`A group has at most ${MAX_GROUP_MEMBERS} members, you included.`);
      return;
    }
    try {
      const user = await app.client?.http.getUser(u);
      if (user === undefined) return;
      if (user.id === store.me?.id) {
        setError('You are in the group already.');
        return;
      }
      setPicked((ps) => (ps.some((p) => p.id === user.id) ? ps : [...ps, user]));
      setEntry('');
    } catch (err) {
      setError(errorText(err));
    }
  }

  function toggle(user: User): void {
    setPicked((ps) =>
      ps.some((p) => p.id === user.id)
        ? ps.filter((p) => p.id !== user.id)
        : ps.length >= max
          ? ps
          : [...ps, user],
    );
  }

  async function create(): Promise<void> {
    if (name.trim() === '') {
      setError('Give the group a name.');
      return;
    }
    if (picked.length === 0) {
      setError('Add at least one member.');
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const c = await app.createGroup(
        name,
        picked.map((p) => p.username),
      );
      openChat(c.id);
    } catch (err) {
      setError(errorText(err));
      setBusy(false);
    }
  }

  const contacts = store.contacts?.contacts ?? [];
  return (
    <PanelFrame title="New group" testid="panel-group">
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          void create();
        }}
      >
        <label>
          <span>Group name</span>
          <input
            name="groupName"
            maxLength={64}
            value={name}
            onInput={(e) => setName(e.currentTarget.value)}
            ref={focusOnMount}
          />
        </label>
        <label>
          <span>
            Add members by username ({picked.length}/{max})
          </span>
          <span class="inline-form">
            <input
              name="member"
              placeholder="username, then Enter"
              autocapitalize="none"
              spellcheck={false}
              value={entry}
              onInput={(e) => setEntry(e.currentTarget.value)}
              onKeyDown={(e) => {
                if (e.key === 'Enter' || e.key === ',') {
                  e.preventDefault();
                  void addUsername(entry);
                }
              }}
            />
            <button type="button" class="secondary small" onClick={() => void addUsername(entry)}>
              Add
            </button>
          </span>
        </label>
        {picked.length > 0 && (
          <ul class="chips" aria-label="Members to add">
            {picked.map((u) => (
              <li key={u.id} class="chip-user">
                {u.displayName}
                <button type="button" onClick={() => toggle(u)} aria-label={`Remove ${u.displayName}`}>
                  <Icon name="close" size={16} />
                </button>
              </li>
            ))}
          </ul>
        )}
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
        <button class="primary" type="submit" disabled={busy}>
          Create group
        </button>
      </form>
      {contacts.length > 0 && (
        <>
          <h2 class="section-title">Contacts</h2>
          <ul class="people">
            {contacts.map(({ user }) => {
              const on = picked.some((p) => p.id === user.id);
              return (
                <li key={user.id}>
                  <label class="person person-btn">
                    <input type="checkbox" checked={on} onChange={() => toggle(user)} />
                    <Avatar id={user.id} name={user.displayName} size={40} />
                    <span class="person-main">
                      <span class="person-name">{user.displayName}</span>
                      <span class="person-sub">@{user.username}</span>
                    </span>
                  </label>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </PanelFrame>
  );
}

function UserRow(props: {
  user: User;
  sub?: string;
  online?: boolean;
  children?: ComponentChildren;
}): JSX.Element {
  const { user } = props;
  return (
    <li class="person" data-testid="contact-row" data-username={user.username}>
      <Avatar id={user.id} name={user.displayName} size={40} online={props.online} />
      <span class="person-main">
        <span class="person-name">{user.displayName}</span>
        <span class="person-sub">{props.sub ?? `@${user.username}`}</span>
      </span>
      <span class="person-actions">{props.children}</span>
    </li>
  );
}

function ContactsPanel(): JSX.Element {
  const store = useApp();
  const [username, setUsername] = useState('');
  const [error, setError] = useState<string | null>(null);
  const http = store.client?.http;
  const list = store.contacts;
  const [dialog, ask] = useConfirm();

  useEffect(() => {
    void app.refreshContacts();
  }, []);

  if (http === undefined)
    return (
      <PanelFrame title="Contacts" testid="panel-contacts">
        {null}
      </PanelFrame>
    );
  const act = (f: () => Promise<unknown>) => void app.contactAction(f);
  const block = (user: User) =>
    ask({
      title: `Block ${user.displayName}?`,
      message:
        'Blocked users cannot message you or add you to groups, and you stop seeing each other online.',
      confirm: 'Block',
      onConfirm: () => act(() => http.block({ userId: user.id })),
    });
  const message = (user: User) =>
    void app.startDirect(user.username).then(
      (c) => openChat(c.id),
      (err: unknown) => app.toast(errorText(err)),
    );

  return (
    <PanelFrame title="Contacts" testid="panel-contacts">
      {dialog}
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          const u = cleanUsername(username);
          if (!USERNAME_PATTERN.test(u)) {
            setError('Enter a username.');
            return;
          }
          setError(null);
          void http.requestContact({ username: u }).then(
            () => {
              setUsername('');
              void app.refreshContacts();
            },
            (err: unknown) => setError(errorText(err)),
          );
        }}
      >
        <label>
          <span>Add a contact by username</span>
          <span class="inline-form">
            <input
              name="contact"
              autocapitalize="none"
              spellcheck={false}
              value={username}
              onInput={(e) => setUsername(e.currentTarget.value)}
            />
            <button class="primary small" disabled={username.trim() === ''}>
              Send request
            </button>
          </span>
        </label>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
      {list === null ? (
        <p class="muted pad">Loading…</p>
      ) : (
        <>
          {list.incoming.length > 0 && (
            <>
              <h2 class="section-title">Requests · {list.incoming.length}</h2>
              <ul class="people" data-testid="incoming">
                {list.incoming.map((u) => (
                  <UserRow key={u.id} user={u} sub={`@${u.username} wants to be your contact`}>
                    <button class="primary small" onClick={() => act(() => http.acceptContact(u.id))}>
                      Accept
                    </button>
                    <button class="secondary small" onClick={() => act(() => http.declineContact(u.id))}>
                      Decline
                    </button>
                    <button class="link small danger" onClick={() => block(u)}>
                      Block
                    </button>
                  </UserRow>
                ))}
              </ul>
            </>
          )}
          <h2 class="section-title">Contacts · {list.contacts.length}</h2>
          {list.contacts.length === 0 ? (
            <p class="muted pad">No contacts yet.</p>
          ) : (
            <ul class="people" data-testid="contacts">
              {list.contacts.map(({ user }) => (
                <UserRow
                  key={user.id}
                  user={user}
                  sub={presenceLine(user.id) || `@${user.username}`}
                  online={store.presence.get(user.id)?.online}
                >
                  <button class="secondary small" onClick={() => message(user)}>
                    Message
                  </button>
                  <button class="link small" onClick={() => act(() => http.removeContact(user.id))}>
                    Remove
                  </button>
                  <button class="link small danger" onClick={() => block(user)}>
                    Block
                  </button>
                </UserRow>
              ))}
            </ul>
          )}
          {list.outgoing.length > 0 && (
            <>
              <h2 class="section-title">Sent requests · {list.outgoing.length}</h2>
              <ul class="people" data-testid="outgoing">
                {list.outgoing.map((u) => (
                  <UserRow key={u.id} user={u} sub={`@${u.username} · waiting`}>
                    <button class="link small" onClick={() => act(() => http.removeContact(u.id))}>
                      Cancel
                    </button>
                  </UserRow>
                ))}
              </ul>
            </>
          )}
          {list.blocked.length > 0 && (
            <>
              <h2 class="section-title">Blocked · {list.blocked.length}</h2>
              <ul class="people" data-testid="blocked">
                {list.blocked.map((u) => (
                  <UserRow key={u.id} user={u}>
                    <button class="secondary small" onClick={() => act(() => http.unblock(u.id))}>
                      Unblock
                    </button>
                  </UserRow>
                ))}
              </ul>
            </>
          )}
        </>
      )}
    </PanelFrame>
  );
}

function NotificationSettings(): JSX.Element {
  const store = useApp();
  useEffect(() => {
    void app.loadSettings();
  }, []);
  const push = store.push;
  return (
    <div data-testid="notification-settings">
      {push === 'unsupported' ? (
        <p class="muted pad">
          This browser cannot receive notifications from Parley (it needs HTTPS and Web Push).
        </p>
      ) : push === 'denied' ? (
        <p class="muted pad">Notifications are blocked for this site in the browser's settings.</p>
      ) : (
        <label class="toggle-row">
          <span>Notifications on this device</span>
          <input
            type="checkbox"
            checked={push === 'on'}
            onChange={(e) =>
              void (e.currentTarget.checked ? app.enableNotifications() : app.disableNotifications())
            }
          />
        </label>
      )}
      <label class="toggle-row">
        <span>Show message text in notifications</span>
        <input
          type="checkbox"
          checked={store.settings?.pushPreview ?? true}
          disabled={store.settings === null}
          onChange={(e) =>
            void app
              .setPushPreview(e.currentTarget.checked)
              .catch((err: unknown) => app.toast(errorText(err)))
          }
        />
      </label>
      <label class="toggle-row">
        <span>Play a sound for new messages</span>
        <input
          type="checkbox"
          checked={store.sound}
          onChange={(e) => app.setSound(e.currentTarget.checked)}
        />
      </label>
    </div>
  );
}

const AUDIENCES: readonly (readonly [string, string])[] = [
  ['everyone', 'Everyone'],
  ['contacts', 'My contacts'],
  ['nobody', 'Nobody'],
];

/** The privacy settings, each a labelled choice; `everyone` means anyone I share a chat with. */
const PRIVACY_CHOICES: readonly {
  key: keyof PrivacySettings;
  label: string;
  options: readonly (readonly [string, string])[];
}[] = [
  { key: 'lastSeen', label: 'Last seen', options: AUDIENCES },
  { key: 'online', label: 'Online', options: AUDIENCES },
  {
    key: 'directMessages',
    label: 'Messages from people not in my contacts',
    options: [
      ['everyone', 'Start a chat'],
      ['requests', 'Arrive as requests'],
      ['contacts', 'Are not allowed'],
    ],
  },
  {
    key: 'groupAdds',
    label: 'Who can add me to groups',
    options: [
      ['everyone', 'Everyone'],
      ['contacts', 'My contacts'],
    ],
  },
];

function PrivacyControls(): JSX.Element {
  const [privacy, setPrivacy] = useState<PrivacySettings | null>(null);
  const [status, setStatus] = useState('');
  useEffect(() => {
    void app.client?.http.getPrivacy().then(setPrivacy, (err: unknown) => setStatus(errorText(err)));
  }, []);
  function change(key: keyof PrivacySettings, value: string): void {
    setStatus('');
    void app.client?.http.setPrivacy({ [key]: value } as Partial<PrivacySettings>).then(
      (p) => {
        setPrivacy(p);
        setStatus('Saved.');
      },
      (err: unknown) => setStatus(errorText(err)),
    );
  }
  return (
    <div data-testid="privacy-settings">
      {PRIVACY_CHOICES.map((c) => (
        <label class="toggle-row" key={c.key}>
          <span>{c.label}</span>
          <select
            name={c.key}
            aria-label={c.label}
            value={privacy?.[c.key] ?? ''}
            disabled={privacy === null}
            onChange={(e) => change(c.key, e.currentTarget.value)}
          >
            {c.options.map(([value, text]) => (
              <option key={value} value={value}>
                {text}
              </option>
            ))}
          </select>
        </label>
      ))}
      <p class="muted pad privacy-note">
        Everyone means anyone you share a chat with. Others see your last seen to the minute; hiding yours
        does not hide theirs from you.
      </p>
      <p class="muted pad" role="status">
        {status}
      </p>
    </div>
  );
}

function SettingsPanel(): JSX.Element {
  const store = useApp();
  const me = store.me;
  const [devices, setDevices] = useState<Device[] | null>(null);
  const [name, setName] = useState(me?.displayName ?? '');
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);

  async function load(): Promise<void> {
    try {
      const res = await app.client?.http.devices();
      if (res !== undefined) setDevices(res.devices.sort((a, b) => Number(b.current) - Number(a.current)));
    } catch (err) {
      setError(errorText(err));
    }
  }
  useEffect(() => {
    void load();
  }, []);

  if (me === null)
    return (
      <PanelFrame title="Settings" testid="panel-settings">
        {null}
      </PanelFrame>
    );
  return (
    <PanelFrame title="Settings" testid="panel-settings">
      <div class="profile">
        <Avatar id={me.id} name={me.displayName} size={96} />
        <p class="muted">@{me.username}</p>
      </div>
      <form
        class="stack"
        onSubmit={(e) => {
          e.preventDefault();
          setSaved(false);
          void app.updateDisplayName(name).then(
            () => setSaved(true),
            (err: unknown) => setError(errorText(err)),
          );
        }}
      >
        <label>
          <span>Your name</span>
          <span class="inline-form">
            <input
              name="displayName"
              maxLength={64}
              value={name}
              onInput={(e) => {
                setName(e.currentTarget.value);
                setSaved(false);
              }}
            />
            <button class="primary small" disabled={name.trim() === '' || name === me.displayName}>
              Save
            </button>
          </span>
        </label>
        {saved && <p class="muted">Saved.</p>}
      </form>
      {error !== null && (
        <p class="error pad" role="alert">
          {error}
        </p>
      )}
      <h2 class="section-title">Notifications</h2>
      <NotificationSettings />
      <h2 class="section-title">Privacy</h2>
      <PrivacyControls />
      <h2 class="section-title">Devices</h2>
      {devices === null ? (
        <p class="muted pad">Loading…</p>
      ) : (
        <ul class="people" data-testid="devices">
          {devices.map((d) => (
            <li key={d.id} class="person" data-testid="device">
              <span class="device-icon" aria-hidden="true">
                <Icon name="device" />
              </span>
              <span class="person-main">
                <span class="person-name">{d.name}</span>
                <span class="person-sub">
                  {d.current ? 'This device' : `Last active ${formatListTime(d.lastSeenAt)}`}
                </span>
              </span>
              {!d.current && (
                <button
                  class="link small danger"
                  aria-label={`Log out ${d.name}`}
                  onClick={() =>
                    void app.client?.http.revokeDevice(d.id).then(
                      () => load(),
                      (err: unknown) => setError(errorText(err)),
                    )
                  }
                >
                  Log out
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <div class="actions">
        <button class="action danger" onClick={() => void app.logout()}>
          <Icon name="logout" /> Log out
        </button>
      </div>
    </PanelFrame>
  );
}
