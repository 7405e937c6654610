/**
 * Attachments in bubbles: photos (ThumbHash placeholder, then the thumbnail, a click opens the
 * full size), voice notes (play, waveform, duration) and files (name, size, download). Their
 * bytes need the session's bearer header, so they are fetched and shown through object URLs,
 * revoked when the view goes.
 */
import type { Attachment } from '@parley/client';
import type { JSX } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { formatDuration, formatSize, guessKind, placeholderUrl, waveformBars } from '../lib/attachments.js';
import type { AppStore, UploadJob } from '../state/store.js';
import { Modal } from './dialog.js';
import { Icon } from './icons.js';

/** An object URL of an attachment's bytes (or thumbnail), fetched when `enabled`; revoked after. */
function useFileUrl(store: AppStore, id: string, thumbnail: boolean, enabled = true): string | undefined {
  const [url, setUrl] = useState<string | undefined>(undefined);
  useEffect(() => {
    const http = store.client?.http;
    if (!enabled || http === undefined) return;
    const ctrl = new AbortController();
    let made: string | undefined;
    void http
      .file(id, { thumbnail, signal: ctrl.signal })
      .then((res) => res.blob())
      .then((blob) => {
        if (ctrl.signal.aborted) return;
        made = URL.createObjectURL(blob);
        setUrl(made);
      })
      .catch(() => undefined);
    return () => {
      ctrl.abort();
      if (made !== undefined) URL.revokeObjectURL(made);
    };
  }, [id, thumbnail, enabled]);
  return url;
}

/** An object URL of a local blob (a file being sent), revoked when the view goes. */
function useBlobUrl(blob: Blob | undefined): string | undefined {
  const url = useMemo(() => (blob === undefined ? undefined : URL.createObjectURL(blob)), [blob]);
  useEffect(() => () => url !== undefined && URL.revokeObjectURL(url), [url]);
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
  const thumb = useFileUrl(store, a.id, a.thumbnail === true);
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
  const full = useFileUrl(props.store, a.id, false);
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

function VoiceNote({ store, a }: { store: AppStore; a: Attachment }): JSX.Element {
  const [wanted, setWanted] = useState(false);
  const src = useFileUrl(store, a.id, false, wanted);
  const audio = useRef<HTMLAudioElement>(null);
  const [playing, setPlaying] = useState(false);
  const [at, setAt] = useState(0);
  const bars = useMemo(() => waveformBars(a.waveform), [a.waveform]);
  const duration = a.durationMs ?? 0;

  useEffect(() => {
    if (src !== undefined && wanted) void audio.current?.play().catch(() => setPlaying(false));
  }, [src]);

  function toggle(): void {
    const el = audio.current;
    if (!wanted) {
      setWanted(true);
      setPlaying(true);
      return;
    }
    if (el === null) return;
    if (el.paused) void el.play().catch(() => setPlaying(false));
    else el.pause();
  }

  const progress = duration > 0 ? Math.min(1, at / duration) : 0;
  return (
    <div class="voice-note" data-testid="voice-note">
      <button
        type="button"
        class="icon-btn play"
        aria-label={playing ? 'Pause voice message' : 'Play voice message'}
        onClick={(e) => {
          e.stopPropagation();
          toggle();
        }}
      >
        <Icon name={playing ? 'pause' : 'play'} />
      </button>
      <span class="wave" role="img" aria-label={`Voice message, ${formatDuration(duration)}`}>
        {bars.map((h, i) => (
          <span
            key={i}
            class={i / bars.length < progress ? 'bar played' : 'bar'}
            style={{ height: `${Math.max(8, Math.round(h * 100))}%` }}
          />
        ))}
      </span>
      <span class="duration">{formatDuration(playing || at > 0 ? at : duration)}</span>
      {src !== undefined && (
        <audio
          ref={audio}
          src={src}
          preload="auto"
          onPlay={() => setPlaying(true)}
          onPause={() => setPlaying(false)}
          onEnded={() => {
            setPlaying(false);
            setAt(0);
          }}
          onTimeUpdate={(e) => setAt(e.currentTarget.currentTime * 1000)}
        />
      )}
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
  const url = useBlobUrl(image ? blob : undefined);
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
