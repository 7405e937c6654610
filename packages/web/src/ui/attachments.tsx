/**
 * Attachments in bubbles: photos (ThumbHash placeholder, then the thumbnail, a click opens the
 * full size), voice notes (play, waveform, duration) and files (name, size, download). Their
 * bytes need the session's bearer header, so they are fetched, never linked to.
 */
import type { Attachment } from '@parley/client';
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatDuration, formatSize, guessKind, placeholderUrl, waveformBars } from '../lib/attachments.js';
import type { AppStore, UploadJob } from '../state/store.js';
import { Modal } from './dialog.js';
import { Icon } from './icons.js';

/**
 * A photo's bytes (or thumbnail) as a data: URL, fetched when `enabled`. Data URLs, unlike
 * object URLs, are images the app's CSP (`img-src 'self' data:`) allows, and need no revoking.
 */
function useImageUrl(store: AppStore, id: string, thumbnail: boolean): string | undefined {
  const [url, setUrl] = useState<string | undefined>(undefined);
  useEffect(() => {
    const http = store.client?.http;
    if (http === undefined) return;
    const ctrl = new AbortController();
    void http
      .file(id, { thumbnail, signal: ctrl.signal })
      .then((res) => res.blob())
      .then(dataUrlOf)
      .then((data) => {
        if (!ctrl.signal.aborted) setUrl(data);
      })
      .catch(() => undefined);
    return () => ctrl.abort();
  }, [id, thumbnail]);
  return url;
}

function dataUrlOf(blob: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error ?? new Error('read failed'));
    reader.readAsDataURL(blob);
  });
}

/** A local photo (a file being sent) as a data: URL, for its preview. */
function useLocalImage(blob: Blob | undefined): string | undefined {
  const [url, setUrl] = useState<string | undefined>(undefined);
  useEffect(() => {
    if (blob === undefined) return;
    let live = true;
    void dataUrlOf(blob)
      .then((data) => live && setUrl(data))
      .catch(() => undefined);
    return () => {
      live = false;
    };
  }, [blob]);
  return url;
}

export function Attachments(props: { store: AppStore; attachments: Attachment[] }): JSX.Element {
  const { store, attachments } = props;
  const images = attachments.filter((a) => a.kind === 'image');
  const others = attachments.filter((a) => a.kind !== 'image');
  return (
    <div class="attachments" data-testid="attachments">
      {images.length > 0 && (
        <div class={`photo-grid n${Math.min(images.length, 4)}`}>
          {images.map((a) => (
            <Photo key={a.id} store={store} a={a} />
          ))}
        </div>
      )}
      {others.map((a) =>
        a.kind === 'audio' ? (
          <VoiceNote key={a.id} store={store} a={a} />
        ) : (
          <FileRow key={a.id} store={store} a={a} />
        ),
      )}
    </div>
  );
}

function Photo({ store, a }: { store: AppStore; a: Attachment }): JSX.Element {
  const [open, setOpen] = useState(false);
  const placeholder = placeholderUrl(a.placeholder);
  const thumb = useImageUrl(store, a.id, a.thumbnail === true);
  const ratio = a.width !== undefined && a.height !== undefined && a.height > 0 ? a.width / a.height : 1;
  return (
    <>
      <button
        type="button"
        class="photo"
        data-testid="photo"
        aria-label={`Photo ${a.name}. Open`}
        style={{ aspectRatio: String(Math.min(3, Math.max(1 / 3, ratio))) }}
        onClick={(e) => {
          e.stopPropagation();
          setOpen(true);
        }}
      >
        {placeholder !== undefined && (
          <img class="placeholder" src={placeholder} alt="" aria-hidden="true" data-testid="placeholder" />
        )}
        {thumb !== undefined && <img class="thumb" src={thumb} alt={a.name} data-testid="thumbnail" />}
      </button>
      {open && <PhotoViewer store={store} a={a} onClose={() => setOpen(false)} />}
    </>
  );
}

/** The full-size photo in a modal dialog (focus trapped, Escape closes). */
function PhotoViewer(props: { store: AppStore; a: Attachment; onClose: () => void }): JSX.Element {
  const { a } = props;
  const full = useImageUrl(props.store, a.id, false);
  const placeholder = placeholderUrl(a.placeholder);
  return (
    <Modal title={a.name} onClose={props.onClose} class="viewer">
      <div class="viewer-body" data-testid="viewer">
        {full !== undefined ? (
          <img src={full} alt={a.name} data-testid="viewer-image" />
        ) : (
          placeholder !== undefined && <img src={placeholder} alt="" aria-hidden="true" />
        )}
        {full !== undefined && (
          <a class="secondary small" href={full} download={a.name}>
            Download
          </a>
        )}
      </div>
    </Modal>
  );
}

/**
 * One shared AudioContext: voice notes are decoded and played with Web Audio, so no media
 * element needs a blob: or data: source (the CSP allows neither for media).
 */
let audioContext: AudioContext | undefined;
/** The voice note playing now: starting another stops it. */
let stopCurrent: (() => void) | undefined;

function VoiceNote({ store, a }: { store: AppStore; a: Attachment }): JSX.Element {
  const buffer = useRef<AudioBuffer | null>(null);
  const source = useRef<AudioBufferSourceNode | null>(null);
  /** Position in ms when paused; while playing, where it started and when (context time). */
  const from = useRef({ offset: 0, startedAt: 0 });
  const [playing, setPlaying] = useState(false);
  const [loading, setLoading] = useState(false);
  const [at, setAt] = useState(0);
  const bars = useMemo(() => waveformBars(a.waveform), [a.waveform]);
  const [duration, setDuration] = useState(a.durationMs ?? 0);

  useEffect(() => {
    if (!playing) return;
    const t = setInterval(() => {
      const ctx = audioContext;
      if (ctx === undefined) return;
      setAt(from.current.offset + (ctx.currentTime - from.current.startedAt) * 1000);
    }, 100);
    return () => clearInterval(t);
  }, [playing]);

  useEffect(() => () => pause(), []);

  function pause(): void {
    const node = source.current;
    source.current = null;
    if (node === null) return;
    const ctx = audioContext;
    if (ctx !== undefined) from.current.offset += (ctx.currentTime - from.current.startedAt) * 1000;
    node.onended = null;
    node.stop();
    if (stopCurrent === pause) stopCurrent = undefined;
    setPlaying(false);
    setAt(from.current.offset);
  }

  async function play(): Promise<void> {
    const http = store.client?.http;
    if (http === undefined) return;
    audioContext ??= new AudioContext();
    const ctx = audioContext;
    if (buffer.current === null) {
      setLoading(true);
      try {
        const bytes = await (await http.file(a.id)).arrayBuffer();
        buffer.current = await ctx.decodeAudioData(bytes);
        if (a.durationMs === undefined) setDuration(buffer.current.duration * 1000);
      } catch {
        store.toast('This voice message cannot be played');
        return;
      } finally {
        setLoading(false);
      }
    }
    stopCurrent?.();
    await ctx.resume();
    const node = ctx.createBufferSource();
    node.buffer = buffer.current;
    node.connect(ctx.destination);
    if (from.current.offset >= buffer.current.duration * 1000) from.current.offset = 0;
    node.onended = () => {
      source.current = null;
      from.current.offset = 0;
      if (stopCurrent === pause) stopCurrent = undefined;
      setPlaying(false);
      setAt(0);
    };
    node.start(0, from.current.offset / 1000);
    from.current.startedAt = ctx.currentTime;
    source.current = node;
    stopCurrent = pause;
    setPlaying(true);
  }

  const progress = duration > 0 ? Math.min(1, at / duration) : 0;
  return (
    <div class="voice-note" data-testid="voice-note">
      <button
        type="button"
        class="icon-btn play"
        aria-label={playing ? 'Pause voice message' : 'Play voice message'}
        disabled={loading}
        onClick={(e) => {
          e.stopPropagation();
          if (playing) pause();
          else void play();
        }}
      >
        <Icon name={playing ? 'pause' : 'play'} />
      </button>
      <span class="wave" role="img" aria-label={`Voice message, ${formatDuration(duration)}`}>
        {bars.map((h, i) => (
          <span
            key={i}
            class={i / bars.length < progress ? 'wave-bar played' : 'wave-bar'}
            style={{ height: `${Math.max(8, Math.round(h * 100))}%` }}
          />
        ))}
      </span>
      <span class="duration" data-testid="duration">
        {formatDuration(playing || at > 0 ? at : duration)}
      </span>
    </div>
  );
}

function FileRow({ store, a }: { store: AppStore; a: Attachment }): JSX.Element {
  const [busy, setBusy] = useState(false);
  async function download(): Promise<void> {
    const http = store.client?.http;
    if (http === undefined) return;
    setBusy(true);
    try {
      const blob = await (await http.file(a.id)).blob();
      const url = URL.createObjectURL(blob);
      const link = document.createElement('a');
      link.href = url;
      link.download = a.name;
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch {
      store.toast(`Could not download ${a.name}`);
    } finally {
      setBusy(false);
    }
  }
  return (
    <div class="file-row" data-testid="file">
      <span class="file-icon" aria-hidden="true">
        {a.kind === 'video' ? '🎥' : '📎'}
      </span>
      <span class="file-text">
        <span class="file-name" dir="auto" data-testid="file-name">
          {a.name}
        </span>
        <span class="file-size" data-testid="file-size">
          {formatSize(a.size)}
        </span>
      </span>
      <button
        type="button"
        class="icon-btn"
        aria-label={`Download ${a.name}`}
        disabled={busy}
        onClick={(e) => {
          e.stopPropagation();
          void download();
        }}
      >
        <Icon name="download" />
      </button>
    </div>
  );
}

/** A message whose files are going up: their names or previews, the progress, and Cancel. */
export function UploadingFiles({ store, job }: { store: AppStore; job: UploadJob }): JSX.Element {
  const percent = job.total === 0 ? 100 : Math.floor((100 * job.sent) / job.total);
  return (
    <div class="uploading" data-testid="uploading">
      <div class="attachments">
        {job.files.map((f, i) => (
          <LocalFile key={i} blob={f.blob} name={f.name} />
        ))}
      </div>
      <div class="upload-progress">
        <progress
          max={100}
          value={percent}
          aria-label={`Uploading, ${percent}%`}
          data-testid="upload-progress"
        />
        <button
          type="button"
          class="icon-btn"
          aria-label="Cancel sending"
          data-testid="cancel-upload"
          onClick={() => store.cancelUpload(job.key)}
        >
          <Icon name="close" />
        </button>
      </div>
    </div>
  );
}

/** A chosen file before it is sent: a photo's preview, else its name and size. */
export function LocalFile({ blob, name }: { blob: Blob; name: string }): JSX.Element {
  const image = guessKind(blob.type) === 'image';
  const url = useLocalImage(image ? blob : undefined);
  if (url !== undefined) return <img class="local-photo" src={url} alt={name} />;
  return (
    <div class="file-row">
      <span class="file-icon" aria-hidden="true">
        {blob.type.startsWith('audio/') ? '🎤' : '📎'}
      </span>
      <span class="file-text">
        <span class="file-name" dir="auto">
          {name}
        </span>
        <span class="file-size">{formatSize(blob.size)}</span>
      </span>
    </div>
  );
}
