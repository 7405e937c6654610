/** The app's frame: log in, or the two-column messenger (one column on phones). */
import type { JSX } from 'preact';
import { useEffect } from 'preact/hooks';
import { setBadge } from '../lib/alerts.js';
import { AuthScreen } from './auth.js';
import { ChatView } from './chat.js';
import { Icon } from './icons.js';
import { InfoDrawer } from './info.js';
import { PanelView } from './panels.js';
import { Sidebar } from './sidebar.js';
import { useApp } from './use-app.js';

export function App(): JSX.Element {
  const store = useApp();
  const { route } = store;

  const unread = store.alertCount;
  useEffect(() => {
    document.title = unread > 0 ? `(${unread}) Parley` : 'Parley';
    setBadge(unread);
  }, [unread]);

  if (store.booting) return <div class="splash" aria-busy="true" />;
  if (store.session === null) return <AuthScreen />;

  // On a phone one screen shows at a time: a panel, else the open chat, else the list.
  const screen =
    route.panel !== null ? 'panel' : route.chat !== null ? (route.info ? 'info' : 'chat') : 'list';
  return (
    // One main landmark around both columns: on a phone either of them is the whole screen.
    <main class={`layout screen-${screen} ${route.info ? 'with-info' : ''}`}>
      <div class="left">{route.panel !== null ? <PanelView panel={route.panel} /> : <Sidebar />}</div>
      <div class="right">
        {route.chat !== null ? (
          <ChatView id={route.chat} />
        ) : (
          <div class="welcome">
            <div class="welcome-box">
              <img src="/icons/icon.svg" alt="" width={96} height={96} />
              <h2>Parley</h2>
              <p>Pick a chat on the left, or start a new one.</p>
              <p class="muted small-print">
                <Icon name="device" size={16} class="inline-icon" /> Your chats stay in sync on all your
                devices.
              </p>
            </div>
          </div>
        )}
      </div>
      {route.chat !== null && route.info && <InfoDrawer id={route.chat} />}
      <div class="toasts" aria-live="polite">
        {store.toasts.map((t) => (
          <div key={t.id} class="toast" role="status">
            {t.text}
          </div>
        ))}
      </div>
    </main>
  );
}
