/** Entry point: render the app, restore the session, register the service worker. */
import { render } from 'preact';
import { app } from './state/store.js';
import { App } from './ui/app.js';
import './styles.css';

const root = document.getElementById('app');
if (root !== null) render(<App />, root);
void app.boot();

if ('serviceWorker' in navigator && location.protocol !== 'file:') {
  window.addEventListener('load', () => {
    navigator.serviceWorker.register('/sw.js').catch(() => {
      // No service worker (e.g. plain http on a LAN address): the app works, just not offline.
    });
  });
}
