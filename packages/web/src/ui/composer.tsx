/**
 * The composer of the open chat: writes new messages, replies (with the quoted message shown
 * above the field) and edits (the message's text in the field), and completes `@mentions`
 * of group members.
 */
import type { JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { LinkPreview, Member } from '@parley/client';
import { MAX_TEXT_CODE_POINTS, codePointLength, firstUrl } from '@parley/protocol';
import { MAX_ATTACHMENTS, formatDuration, waveformOf } from '../lib/attachments.js';
import { formatCount } from '../lib/format.js';
import { plainText } from '../lib/markup.js';
import { app } from '../state/store.js';
import { LocalFile } from './attachments.js';
import { PreviewCard } from './link-preview.js';
import { Icon } from './icons.js';
import { useApp } from './use-app.js';

/** The counter shows from this many code points on. */
const COUNTER_FROM = MAX_TEXT_CODE_POINTS - 999;

/**
 * A touch screen's keyboard has no Shift+Enter, so there Enter makes a new line and the Send
 * button sends; with a mouse or touchpad, Enter sends and Shift+Enter makes a new line.
 */
function enterMakesNewline(): boolean {
  return window.matchMedia('(pointer: coarse)').matches;
}

/** The `@word` being typed just before the caret, if any. */
export function mentionQuery(text: string, caret: number): { start: number; query: string } | null {
  if (caret < 0) return null;
  const m = /(^|\s)@([\p{L}\p{N}_.-]{0,32})$/u.exec(text.slice(0, caret));
  if (m === null) return null;
  return { start: caret - (m[2]?.length ?? 0) - 1, query: (m[2] ?? '').toLowerCase() };
}

/** The recording type: Opus where the browser can (WebM, else Ogg), else what it records. */
function recordingType(): string | undefined {
  for (const t of ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/webm', 'audio/mp4']) {
    if (MediaRecorder.isTypeSupported(t)) return t;
  }
  return undefined;
}

/** Recording is possible: the APIs exist and the page's Permissions-Policy allows the microphone. */
function canRecord(): boolean {
  if (typeof MediaRecorder !== 'function' || navigator.mediaDevices?.getUserMedia === undefined) return false;
  // Chromium says what the policy allows; elsewhere a refusal shows when recording starts.
  const policy = (document as Document & { featurePolicy?: { allowsFeature(f: string): boolean } })
    .featurePolicy;
  return policy === undefined || policy.allowsFeature('microphone');
}

/** Peaks of a recording, or none when the browser cannot decode what it recorded. */
async function peaksOf(blob: Blob): Promise<string | undefined> {
  try {
    const ctx = new AudioContext();
    try {
      const audio = await ctx.decodeAudioData(await blob.arrayBuffer());
      return waveformOf(audio.getChannelData(0));
    } finally {
      void ctx.close();
    }
  } catch {
    return undefined;
  }
}

interface Recording {
  recorder: MediaRecorder;
  stream: MediaStream;
  startedAt: number;
  chunks: Blob[];
}

/**
 * Voice notes: `start` asks for the microphone and records; `stop(send)` ends the recording
 * and, when `send`, hands the note (bytes, duration, peaks) to `onNote`.
 */
function useRecorder(onNote: (blob: Blob, durationMs: number, waveform: string | undefined) => void): {
  recording: boolean;
  elapsed: number;
  start: () => void;
  stop: (send: boolean) => void;
} {
  const rec = useRef<Recording | null>(null);
  const [recording, setRecording] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const wanted = useRef(false);

  useEffect(() => {
    if (!recording) return;
    const t = setInterval(() => setElapsed(Date.now() - (rec.current?.startedAt ?? Date.now())), 250);
    return () => clearInterval(t);
  }, [recording]);

  useEffect(() => () => stopWith(false), []);

  function start(): void {
    if (rec.current !== null || wanted.current) return;
    wanted.current = true;
    void navigator.mediaDevices.getUserMedia({ audio: true }).then(
      (stream) => {
        // Released before the microphone was granted: nothing to record.
        if (!wanted.current) {
          for (const t of stream.getTracks()) t.stop();
          return;
        }
        const type = recordingType();
        const recorder = new MediaRecorder(stream, type === undefined ? {} : { mimeType: type });
        const r: Recording = { recorder, stream, startedAt: Date.now(), chunks: [] };
        recorder.ondataavailable = (e) => {
          if (e.data.size > 0) r.chunks.push(e.data);
        };
        recorder.start();
        rec.current = r;
        setElapsed(0);
        setRecording(true);
      },
      () => {
        wanted.current = false;
        app.toast('The microphone is not available');
      },
    );
  }

  function stopWith(send: boolean): void {
    wanted.current = false;
    const r = rec.current;
    rec.current = null;
    setRecording(false);
    if (r === null) return;
    const durationMs = Date.now() - r.startedAt;
    r.recorder.onstop = () => {
      for (const t of r.stream.getTracks()) t.stop();
      if (!send || durationMs < 500) return;
      const blob = new Blob(r.chunks, { type: r.recorder.mimeType || 'audio/webm' });
      void peaksOf(blob).then((waveform) => onNote(blob, durationMs, waveform));
    };
    r.recorder.stop();
  }

  return { recording, elapsed, start, stop: stopWith };
}

/** Quiet time after typing before the preview of a link is asked for, ms. */
const PREVIEW_DELAY_MS = 500;

export function Composer({ id }: { id: string }): JSX.Element {
  const store = useApp();
  const stored = store.drafts.get(id) ?? '';
  const mode = store.compose.get(id) ?? null;
  const target = mode === null ? undefined : store.message(id, mode.seq);
  const [text, setText] = useState(stored);
  const [touch] = useState(enterMakesNewline);
  const [caret, setCaret] = useState(0);
  const [pick, setPick] = useState(0);
  const error = store.sendErrors.get(id) ?? null;
  const input = useRef<HTMLTextAreaElement>(null);
  const picker = useRef<HTMLInputElement>(null);
  const [files, setFiles] = useState<File[]>([]);
  const recorder = useRecorder((blob, durationMs, waveform) => {
    const ext = blob.type.includes('ogg') ? 'ogg' : blob.type.includes('mp4') ? 'm4a' : 'webm';
    const name = `Voice message ${new Date().toISOString().slice(0, 19).replace('T', ' ')}.${ext}`;
    const note = waveform === undefined ? { blob, name, durationMs } : { blob, name, durationMs, waveform };
    app.sendFiles(id, [note], '');
  });
  // Only long texts can be near the limit: a UTF-16 length bounds the code points from above.
  const length = text.length >= COUNTER_FROM ? codePointLength(text) : text.length;
  const over = length > MAX_TEXT_CODE_POINTS;
  const editing = mode?.kind === 'edit';
  const empty = text.trim() === '' && (files.length === 0 || editing);

  const c = store.conversations.get(id);
  const members = c?.kind === 'group' ? (store.members.get(id) ?? []) : [];
  const q = members.length > 0 ? mentionQuery(text, caret) : null;
  const me = store.me?.id;
  const options: Member[] =
    q === null
      ? []
      : members
          .filter(
            (m) =>
              m.userId !== me &&
              (m.username.startsWith(q.query) || m.displayName.toLowerCase().startsWith(q.query)),
          )
          .slice(0, 8);

  // The first link's preview, asked for once the typing pauses; `for` is the URL asked.
  const url = editing || files.length > 0 ? null : firstUrl(text);
  const [preview, setPreview] = useState<{ for: string; card: LinkPreview } | null>(null);
  const [removed, setRemoved] = useState<string | null>(null);
  useEffect(() => {
    if (url === null || preview?.for === url) return;
    let live = true;
    const timer = setTimeout(() => {
      app.linkPreview(url).then(
        (card) => {
          if (live) setPreview(card === null ? null : { for: url, card });
        },
        () => undefined,
      );
    }, PREVIEW_DELAY_MS);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [url]);
  const shown = preview !== null && preview.for === url && removed !== url ? preview.card : null;

  // Files chosen in one chat are not sent in another.
  useEffect(() => setFiles([]), [id]);

  function addFiles(list: Iterable<File>): void {
    const chosen = [...list];
    if (chosen.length === 0 || editing) return;
    setFiles((had) => {
      const next = [...had, ...chosen];
      if (next.length > MAX_ATTACHMENTS) app.toast(`At most ${MAX_ATTACHMENTS} files in one message`);
      return next.slice(0, MAX_ATTACHMENTS);
    });
    input.current?.focus();
  }

  useEffect(() => {
    // Focus on desktop; on phones the keyboard would cover the messages just opened.
    if (window.matchMedia('(min-width: 481px)').matches) input.current?.focus();
  }, [id]);

  useEffect(() => autosize(input.current), [text]);

  // The store changed the draft itself: loaded from the device, or a refused message given back.
  useEffect(() => {
    if (stored !== text && !editing) setText(stored);
  }, [stored]);

  // Replying or editing starts: the field gets focus (and, to edit, the message's text).
  useEffect(() => {
    if (mode === null) return;
    if (mode.kind === 'edit') setText(target?.text ?? '');
    input.current?.focus();
  }, [mode?.kind, mode?.seq]);

  function cancel(): void {
    const wasEditing = editing;
    store.setCompose(id, null);
    if (wasEditing) setText(store.drafts.get(id) ?? '');
  }

  function send(): void {
    if (empty || over) return;
    if (mode?.kind === 'edit') {
      if (text.trim() !== target?.text) app.act(id, { kind: 'edit', target: mode.seq, text: text.trim() });
      store.setCompose(id, null);
      setText(store.drafts.get(id) ?? '');
      input.current?.focus();
      return;
    }
    if (files.length > 0) {
      app.sendFiles(
        id,
        files.map((f) => ({ blob: f, name: f.name })),
        text.trim(),
        mode?.kind === 'reply' ? mode.seq : undefined,
      );
      setFiles([]);
    } else {
      app.send(id, text.trim(), mode?.kind === 'reply' ? mode.seq : undefined, shown !== null);
    }
    if (mode !== null) store.setCompose(id, null);
    setPreview(null);
    setRemoved(null);
    setText('');
    app.setDraft(id, '');
    input.current?.focus();
  }

  function complete(m: Member): void {
    if (q === null) return;
    const el = input.current;
    const before = text.slice(0, q.start);
    const after = text.slice(caret);
    const next = `${before}@${m.username} ${after}`;
    setText(next);
    if (!editing) app.setDraft(id, next);
    const at = before.length + m.username.length + 2;
    setCaret(at);
    setPick(0);
    requestAnimationFrame(() => el?.setSelectionRange(at, at));
  }

  const quoted =
    target === undefined ? '' : target.deleted === true ? 'This message was deleted' : plainText(target.text);
  const quotedName =
    target === undefined
      ? ''
      : target.senderId === me
        ? 'You'
        : (store.users.get(target.senderId)?.displayName ?? 'Former member');

  return (
    <form
      class="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
      onDragOver={(e) => {
        if (e.dataTransfer?.types.includes('Files') === true && !editing) e.preventDefault();
      }}
      onDrop={(e) => {
        const dropped = e.dataTransfer?.files;
        if (dropped === undefined || dropped.length === 0) return;
        e.preventDefault();
        addFiles(dropped);
      }}
    >
      {length >= COUNTER_FROM && (
        <div class={`counter ${over ? 'over' : ''}`} role="status" data-testid="char-counter">
          {over
            ? `${characters(length - MAX_TEXT_CODE_POINTS)} over the limit`
            : `${characters(MAX_TEXT_CODE_POINTS - length)} left`}
        </div>
      )}
      {error !== null && (
        <p class="send-error" role="alert" data-testid="send-error">
          {error}
        </p>
      )}
      {shown !== null && (
        <div class="compose-preview" data-testid="composer-preview">
          <PreviewCard preview={shown} />
          <button
            type="button"
            class="icon-btn"
            onClick={() => setRemoved(url)}
            aria-label="Remove preview"
            title="Remove preview"
            data-testid="remove-preview"
          >
            <Icon name="close" />
          </button>
        </div>
      )}
      {mode !== null && (
        <div class="compose-mode" data-testid={editing ? 'editing-bar' : 'reply-bar'}>
          <div class="compose-quote">
            <span class="quote-name">{editing ? 'Edit message' : `Reply to ${quotedName}`}</span>
            <span class="quote-text" dir="auto">
              {quoted}
            </span>
          </div>
          <button
            type="button"
            class="icon-btn"
            onClick={cancel}
            aria-label={editing ? 'Cancel editing' : 'Cancel reply'}
          >
            <Icon name="close" />
          </button>
        </div>
      )}
      {options.length > 0 && (
        <ul
          class="mention-list"
          role="listbox"
          aria-label="Members"
          data-testid="mention-list"
          id={`mentions-${id}`}
        >
          {options.map((m, i) => (
            <li
              key={m.userId}
              id={`mention-${m.userId}`}
              role="option"
              aria-selected={i === pick % options.length}
              class={i === pick % options.length ? 'active' : ''}
              onMouseDown={(e) => {
                e.preventDefault();
                complete(m);
              }}
            >
              <span class="mention-name">{m.displayName}</span>{' '}
              <span class="mention-user">@{m.username}</span>
            </li>
          ))}
        </ul>
      )}
      {files.length > 0 && (
        <ul class="tray" aria-label="Files to send" data-testid="tray">
          {files.map((f, i) => (
            <li key={`${i}-${f.name}-${f.size}`} class="tray-item">
              <LocalFile blob={f} name={f.name} />
              <button
                type="button"
                class="icon-btn tray-remove"
                aria-label={`Remove ${f.name}`}
                onClick={() => setFiles((had) => had.filter((_, j) => j !== i))}
              >
                <Icon name="close" size={18} />
              </button>
            </li>
          ))}
        </ul>
      )}
      {recorder.recording && (
        <div class="recording" role="status" data-testid="recording">
          <span class="rec-dot" aria-hidden="true" />
          Recording {formatDuration(recorder.elapsed)}
          <button type="button" class="secondary small" onClick={() => recorder.stop(false)}>
            Cancel
          </button>
        </div>
      )}
      <div class="composer-row">
        {!editing && (
          <>
            <button
              type="button"
              class="icon-btn attach"
              aria-label="Attach files"
              title="Attach files"
              data-testid="attach"
              onClick={() => picker.current?.click()}
            >
              <Icon name="attach" />
            </button>
            <input
              ref={picker}
              type="file"
              multiple
              hidden
              data-testid="file-input"
              onChange={(e) => {
                const el = e.currentTarget;
                if (el.files !== null) addFiles(el.files);
                el.value = '';
              }}
            />
          </>
        )}
        <textarea
          ref={input}
          rows={1}
          placeholder={editing ? 'Edit message' : files.length > 0 ? 'Add a caption' : 'Type a message'}
          aria-label="Message"
          data-testid="composer"
          enterkeyhint={touch ? 'enter' : 'send'}
          value={text}
          aria-autocomplete={members.length > 0 ? 'list' : undefined}
          aria-activedescendant={
            options.length > 0 ? `mention-${options[pick % options.length]?.userId ?? ''}` : undefined
          }
          onInput={(e) => {
            const v = e.currentTarget.value;
            setText(v);
            setCaret(e.currentTarget.selectionStart);
            setPick(0);
            if (editing) return;
            app.setDraft(id, v);
            if (error !== null) app.clearSendError(id);
            if (v !== '') app.sendTyping(id);
          }}
          onPaste={(e) => {
            const pasted = [...(e.clipboardData?.files ?? [])].filter((f) => f.type.startsWith('image/'));
            if (pasted.length === 0) return;
            e.preventDefault();
            addFiles(pasted);
          }}
          onKeyUp={(e) => setCaret(e.currentTarget.selectionStart)}
          onClick={(e) => setCaret(e.currentTarget.selectionStart)}
          onKeyDown={(e) => {
            if (options.length > 0) {
              const chosen = options[pick % options.length];
              if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
                e.preventDefault();
                setPick((p) => (p + (e.key === 'ArrowDown' ? 1 : options.length - 1)) % options.length);
                return;
              }
              if ((e.key === 'Enter' || e.key === 'Tab') && chosen !== undefined) {
                e.preventDefault();
                complete(chosen);
                return;
              }
              if (e.key === 'Escape') {
                e.preventDefault();
                setCaret(-1);
                return;
              }
            }
            if (e.key === 'Escape' && mode !== null) {
              e.preventDefault();
              cancel();
              return;
            }
            if (e.key !== 'Enter' || e.isComposing) return;
            // Ctrl/Cmd+Enter sends on every device.
            if (e.ctrlKey || e.metaKey || (!touch && !e.shiftKey)) {
              e.preventDefault();
              send();
            }
          }}
        />
        {empty && !editing && !over && canRecord() ? (
          <button
            class={`send mic ${recorder.recording ? 'on' : ''}`}
            type="button"
            aria-label={recorder.recording ? 'Stop and send voice message' : 'Record voice message'}
            aria-pressed={recorder.recording}
            title={touch ? 'Hold to record' : 'Record a voice message'}
            data-testid="mic"
            onPointerDown={(e) => {
              // Touch screens: hold to record, release to send.
              if (e.pointerType !== 'touch') return;
              e.preventDefault();
              recorder.start();
            }}
            onPointerUp={(e) => {
              if (e.pointerType === 'touch') recorder.stop(true);
            }}
            onPointerCancel={() => recorder.stop(false)}
            onClick={(e) => {
              // A tap already recorded on pointer events; a click (mouse, keyboard) toggles.
              if ((e as MouseEvent & { pointerType?: string }).pointerType === 'touch') return;
              if (recorder.recording) recorder.stop(true);
              else recorder.start();
            }}
          >
            <Icon name={recorder.recording ? 'stop' : 'mic'} />
          </button>
        ) : (
          <button
            class="send"
            type="submit"
            disabled={empty || over}
            aria-label={editing ? 'Save' : 'Send'}
            title={editing ? 'Save' : touch ? 'Send' : 'Send (Enter)'}
          >
            <Icon name={editing ? 'check' : 'send'} />
          </button>
        )}
      </div>
    </form>
  );
}

function characters(n: number): string {
  return `${formatCount(n)} character${n === 1 ? '' : 's'}`;
}

function autosize(el: HTMLTextAreaElement | null): void {
  if (el === null) return;
  el.style.height = 'auto';
  el.style.height = `${Math.min(el.scrollHeight, 160)}px`;
}
