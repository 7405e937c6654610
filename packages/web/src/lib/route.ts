/**
 * The app's location, kept in the URL hash (`#/c/<id>/info?p=contacts`) so that the back
 * button works on phones and the server needs no route per screen. No secret ever goes here.
 */

/** Left-hand panels (on a phone: full screens). */
export type Panel = 'new' | 'group' | 'contacts' | 'settings' | 'saved' | 'mentions';
const PANELS: readonly Panel[] = ['new', 'group', 'contacts', 'settings', 'saved', 'mentions'];

export interface Route {
  /** The open conversation. */
  chat: string | null;
  /** A message of it to show (`#/c/<id>/m/<seq>`): the chat opens there. */
  message: number | null;
  /** The conversation's info drawer is open. */
  info: boolean;
  panel: Panel | null;
}

export function parseRoute(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#/, '').split('?');
  const p = new URLSearchParams(query).get('p');
  const panel = PANELS.find((x) => x === p) ?? null;
  const m = /^\/c\/([^/]+)(?:\/m\/([1-9][0-9]{0,14}))?(\/info)?$/.exec(path);
  if (m === null) return { chat: null, message: null, info: false, panel };
  let chat: string | null = null;
  try {
    chat = decodeURIComponent(m[1] ?? '');
  } catch {
    chat = null;
  }
  const message = chat !== null && m[2] !== undefined ? Number(m[2]) : null;
  return { chat, message, info: chat !== null && m[3] !== undefined, panel };
}

export function formatRoute(r: Route): string {
  let path =
    r.chat === null
      ? '/'
      : `/c/${encodeURIComponent(r.chat)}${r.message !== null ? `/m/${r.message}` : ''}${r.info ? '/info' : ''}`;
  if (r.panel !== null) path += `?p=${r.panel}`;
  return `#${path}`;
}

export function currentRoute(): Route {
  return parseRoute(location.hash);
}

function depth(): number {
  const d = (history.state as { depth?: unknown } | null)?.depth;
  return typeof d === 'number' ? d : 0;
}

/** Go to a route: a new history entry, or replacing the current one. */
export function navigate(r: Partial<Route>, opts: { replace?: boolean } = {}): void {
  const cur = currentRoute();
  // Another chat opens at its latest messages unless a message is named.
  const message =
    r.message !== undefined ? r.message : r.chat !== undefined && r.chat !== cur.chat ? null : cur.message;
  const next = formatRoute({ ...cur, ...r, message });
  if (next === location.hash || (next === '#/' && location.hash === '')) return;
  // `depth` counts our own entries, so that back() never leaves the app.
  if (opts.replace === true) history.replaceState({ depth: depth() }, '', next);
  else history.pushState({ depth: depth() + 1 }, '', next);
  // pushState does not fire hashchange: tell the app.
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

/** Close the current screen: back to the previous entry if it is ours, else to `fallback`. */
export function back(fallback: Partial<Route>): void {
  if (depth() > 0) history.back();
  else navigate(fallback, { replace: true });
}
