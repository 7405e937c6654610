/** Entry point: render the app, restore the session, register the service worker. */
import { render } from 'preact';
import { app } from './state/store.js';
import { App } from './ui/app.js';
import { navigate } from './lib/route.js';
import './styles.css';

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
void app.boot();

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  // A click on a notification while the app is open (sw.ts): show that conversation.
  navigator.serviceWorker.addEventListener('message', (e: MessageEvent) => {
    const d = e.data as { type?: unknown; conversationId?: unknown } | null;
    if (d?.type === 'parley.open' && typeof d.conversationId === 'string') {
      navigate({ chat: d.conversationId, info: false, panel: null });
    }
    // A push came (sw.ts): which conversation is on screen here, if the tab is shown.
    if (d?.type === 'parley.viewing') {
      const shown = document.visibilityState === 'visible' ? app.route.chat : null;
      e.ports[0]?.postMessage({ conversationId: shown });
    }
  });
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => {
      // No service worker (e.g. plain http on a LAN address): the app works, just not offline.
    });
  });
}
