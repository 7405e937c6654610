/**
 * Voice notes: the formats browsers' MediaRecorder produces (WebM or Ogg with Opus, MP4 with
 * AAC), recognised from their bytes, with the duration their container records, read by
 * music-metadata. A duration is never guessed: when the container does not record one (the
 * WebM of Chrome's and Firefox's MediaRecorder), it is null, and the server falls back on the
 * duration the client states, within bounds.
 */
import { parseBuffer, parseFromTokenizer } from 'music-metadata';
import type { IAudioMetadata, IOptions } from 'music-metadata';
import { fromFile } from 'strtok3';
import { baseType, sniff, sniffFile } from './sniff.js';

/** The type a voice note is stored and served with: its container, holding audio only. */
export type VoiceNoteType = 'audio/webm' | 'audio/ogg' | 'audio/mp4';

export interface VoiceNote {
  mime: VoiceNoteType;
  /** Whole milliseconds, or null when the container does not record a duration. */
  durationMs: number | null;
}

/** Sniffed types of the voice-note containers: file-type names WebM and MP4 as video. */
const CONTAINERS: Readonly<Record<string, VoiceNoteType>> = {
  'audio/ogg': 'audio/ogg',
  'audio/opus': 'audio/ogg',
  'audio/webm': 'audio/webm',
  'video/webm': 'audio/webm',
  'audio/mp4': 'audio/mp4',
  'audio/x-m4a': 'audio/mp4',
  'video/mp4': 'audio/mp4',
};

const PARSE_OPTIONS: IOptions = {
  skipCovers: true,
  // Nothing is searched for after the media (ID3v1, APE tags) and a WebM index is followed
  // past the clusters: only the headers are read where the container allows it.
  skipPostHeaders: true,
  mkvUseIndex: true,
};

/**
 * The voice note in `input` (bytes or a file path): null unless it is a WebM, Ogg or MP4 file
 * with an audio track and no video track that its parser reads without error.
 */
export async function probeVoiceNote(input: Buffer | string): Promise<VoiceNote | null> {
  const type = await (typeof input === 'string' ? sniffFile(input) : sniff(input));
  const mime = type ? CONTAINERS[baseType(type.mime)] : undefined;
  if (!mime) return null;
  let meta: IAudioMetadata;
  try {
    meta = await parse(input, mime);
  } catch {
    return null;
  }
  const { hasAudio, hasVideo, duration } = meta.format;
  if (!hasAudio || hasVideo) return null;
  const durationMs =
    duration !== undefined && Number.isFinite(duration) && duration >= 0 ? Math.round(duration * 1000) : null;
  return { mime, durationMs };
}

/** The duration of a voice note in milliseconds, or null when unknown or not a voice note. */
export async function audioDurationMs(input: Buffer | string): Promise<number | null> {
  return (await probeVoiceNote(input))?.durationMs ?? null;
}

/** Parses with the parser of the sniffed container only, whatever a file name says. */
async function parse(input: Buffer | string, mimeType: VoiceNoteType): Promise<IAudioMetadata> {
  if (typeof input !== 'string') return parseBuffer(input, { mimeType }, PARSE_OPTIONS);
  const tokenizer = await fromFile(input, { fileInfo: { mimeType } });
  try {
    return await parseFromTokenizer(tokenizer, PARSE_OPTIONS);
  } finally {
    await tokenizer.close();
  }
}
