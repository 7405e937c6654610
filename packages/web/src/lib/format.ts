/** Formatting of names, times and dates for display, in the browser's locale. */

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const weekdayFmt = new Intl.DateTimeFormat(undefined, { weekday: 'long' });
const shortDateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'short' });
const longDateFmt = new Intl.DateTimeFormat(undefined, { day: 'numeric', month: 'long', year: 'numeric' });
const numericDateFmt = new Intl.DateTimeFormat(undefined, {
  day: '2-digit',
  month: '2-digit',
  year: '2-digit',
});

const DAY_MS = 86_400_000;

/** Local midnight of the day of `t`. */
export function startOfDay(t: number): number {
  const d = new Date(t);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
}

/** Whole local days between the day of `t` and today (0 = today). */
function daysAgo(t: number, now = Date.now()): number {
  return Math.round((startOfDay(now) - startOfDay(t)) / DAY_MS);
}

export function formatTime(t: number): string {
  return timeFmt.format(t);
}

/** Label of a day separator: Today, Yesterday, a weekday this week, else the date. */
export function formatDay(t: number, now = Date.now()): string {
  const days = daysAgo(t, now);
  if (days === 0) return 'Today';
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return weekdayFmt.format(t);
  return longDateFmt.format(t);
}

/** Time in the conversation list: a time today, "Yesterday", a weekday, else a short date. */
export function formatListTime(t: number, now = Date.now()): string {
  const days = daysAgo(t, now);
  if (days === 0) return formatTime(t);
  if (days === 1) return 'Yesterday';
  if (days > 1 && days < 7) return weekdayFmt.format(t);
  return numericDateFmt.format(t);
}

/** "last seen today at 14:05", "last seen yesterday at …", "last seen 3 Mar at …". */
export function formatLastSeen(t: number | null, now = Date.now()): string {
  if (t === null) return '';
  const days = daysAgo(t, now);
  if (days === 0) {
    if (now - t < 60_000) return 'last seen just now';
    return `last seen today at ${formatTime(t)}`;
  }
  if (days === 1) return `last seen yesterday at ${formatTime(t)}`;
  if (days < 7) return `last seen ${weekdayFmt.format(t)} at ${formatTime(t)}`;
  return `last seen ${shortDateFmt.format(t)}`;
}

/** Up to two initials of a name ("Ada Lovelace" → "AL", "bob" → "B"). */
export function initials(name: string): string {
  const words = name
    .trim()
    .split(/\s+/)
    .filter((w) => w.length > 0);
  const letters = words.slice(0, 2).map((w) => String.fromCodePoint(w.codePointAt(0) ?? 63));
  return (letters.join('') || '?').toUpperCase();
}

/** A stable hue index (0-7) for a user or conversation id: avatar and sender-name colours. */
export function colorIndex(id: string): number {
  let h = 0;
  for (let i = 0; i < id.length; i++) h = (h * 31 + id.charCodeAt(i)) >>> 0;
  return h % 8;
}

/** "1,234" in the browser's locale. */
export function formatCount(n: number): string {
  return n.toLocaleString();
}

/** A conversation's notifications are muted now (`mutedUntil` null: until unmuted). */
export function mutedNow(c: { mutedUntil?: number | null }, now = Date.now()): boolean {
  return c.mutedUntil !== undefined && (c.mutedUntil === null || c.mutedUntil > now);
}

/** "Muted until 18:30", "Muted until Mon 9:00", "Muted". */
export function mutedText(c: { mutedUntil?: number | null }): string {
  if (c.mutedUntil === undefined || c.mutedUntil === null) return 'Muted';
  const d = new Date(c.mutedUntil);
  const sameDay = d.toDateString() === new Date().toDateString();
  const time = d.toLocaleTimeString(undefined, { hour: 'numeric', minute: '2-digit' });
  return sameDay
    ? `Muted until ${time}`
    : `Muted until ${d.toLocaleDateString(undefined, { weekday: 'short', month: 'short', day: 'numeric' })} ${time}`;
}
