/** Attachments in the web app: labels, sizes, durations, placeholders and voice-note peaks. */
import type { Attachment, Message, PendingSend } from '@parley/client';
import { thumbHashToDataURL } from 'thumbhash';

export { MAX_ATTACHMENTS } from '@parley/protocol';
/** Bars of a voice note's waveform. */
export const WAVEFORM_BARS = 64;

/** A message's attachments (none: an empty list). */
export function attachmentsOf(m: Message): Attachment[] {
  return m.attachments ?? [];
}

/** "12 B", "340 KB", "1.2 MB" (decimal units, as file managers show them). */
export function formatSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  if (bytes < 1_000_000) return `${Math.round(bytes / 1000)} KB`;
  if (bytes < 1_000_000_000) return `${(bytes / 1_000_000).toFixed(1)} MB`;
  return `${(bytes / 1_000_000_000).toFixed(1)} GB`;
}

/** m:ss. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** What a message with attachments says in a list: "📷 Photo", "🎤 Voice message 0:07", "📎 name" (as push notifications do). */
export function attachmentLabel(a: Pick<Attachment, 'kind' | 'name' | 'durationMs'>): string {
  switch (a.kind) {
    case 'image':
      return '📷 Photo';
    case 'video':
      return '🎥 Video';
    case 'audio':
      return a.durationMs === undefined
        ? '🎤 Voice message'
        : `🎤 Voice message ${formatDuration(a.durationMs)}`;
    default:
      return `📎 ${a.name}`;
  }
}

const EMOJI = { image: '📷', video: '🎥', audio: '🎤', file: '📎' } as const;

/**
 * The one-line preview of a message with attachments (undefined: it has none). A send not yet
 * stored names its uploads only: pass what the server made of them as `known`.
 */
export function attachmentPreview(
  m: Message | PendingSend,
  caption: string,
  known?: readonly Attachment[],
): string | undefined {
  const list = 'seq' in m ? attachmentsOf(m) : (known ?? []);
  const first = list[0];
  if (first === undefined) {
    if ('seq' in m || m.attachments === undefined) return undefined;
    return caption === '' ? '📎 Attachment' : `📎 ${caption}`;
  }
  return caption === '' ? attachmentLabel(first) : `${EMOJI[first.kind]} ${caption}`;
}

/** The kind a chosen file will most likely be (the server decides from the bytes). */
export function guessKind(type: string): Attachment['kind'] {
  if (/^image\/(jpeg|png|webp|gif|avif)$/.test(type)) return 'image';
  if (type.startsWith('video/')) return 'video';
  if (type.startsWith('audio/')) return 'audio';
  return 'file';
}

const placeholders = new Map<string, string>();

/** A ThumbHash (base64) as a PNG data URL; undefined when it cannot be decoded. */
export function placeholderUrl(hash: string | undefined): string | undefined {
  if (hash === undefined || hash === '') return undefined;
  let url = placeholders.get(hash);
  if (url === undefined) {
    try {
      const bin = atob(hash);
      url = thumbHashToDataURL(Uint8Array.from(bin, (c) => c.charCodeAt(0)));
    } catch {
      return undefined;
    }
    if (placeholders.size > 500) placeholders.clear();
    placeholders.set(hash, url);
  }
  return url;
}

/** Peaks of `samples` in `bars` bars, one byte each (0-255, scaled to the loudest), base64. */
export function waveformOf(samples: Float32Array, bars = WAVEFORM_BARS): string {
  const peaks = new Array<number>(bars).fill(0);
  const per = Math.max(1, Math.floor(samples.length / bars));
  for (let b = 0; b < bars; b++) {
    let max = 0;
    const end = Math.min(samples.length, (b + 1) * per);
    for (let i = b * per; i < end; i++) {
      const v = Math.abs(samples[i] ?? 0);
      if (v > max) max = v;
    }
    peaks[b] = max;
  }
  const top = Math.max(...peaks, 1e-6);
  let bin = '';
  for (const p of peaks) bin += String.fromCharCode(Math.round((p / top) * 255));
  return btoa(bin);
}

/** The bars of a base64 waveform as fractions of the highest (0-1); none when absent or bad. */
export function waveformBars(waveform: string | undefined): number[] {
  if (waveform === undefined) return [];
  try {
    return Array.from(atob(waveform), (c) => c.charCodeAt(0) / 255).slice(0, 128);
  } catch {
    return [];
  }
}
