/** A modal dialog on the native <dialog>: focus is trapped, Escape closes, focus returns after. */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { Icon } from './icons.js';

export function Modal(props: {
  title: string;
  onClose: () => void;
  children: ComponentChildren;
  /** Another look, e.g. `viewer` for a full-size photo. */
  class?: string;
}): JSX.Element {
  const ref = useRef<HTMLDialogElement>(null);
  useEffect(() => {
    const d = ref.current;
    const opener = document.activeElement as HTMLElement | null;
    if (d !== null && !d.open) d.showModal();
    return () => opener?.focus();
  }, []);
  return (
    <dialog
      ref={ref}
      class={`modal ${props.class ?? ''}`}
      aria-label={props.title}
      onCancel={(e) => {
        e.preventDefault();
        props.onClose();
      }}
      onClick={(e) => {
        // A click on the backdrop (the dialog element itself, outside its box) closes it.
        if (e.target === ref.current) props.onClose();
      }}
    >
      <div class="modal-box">
        <header class="modal-head">
          <h2>{props.title}</h2>
          <button class="icon-btn" onClick={props.onClose} aria-label="Close">
            <Icon name="close" />
          </button>
        </header>
        <div class="modal-body">{props.children}</div>
      </div>
    </dialog>
  );
}

/** What a confirmation asks; `onConfirm` runs after the dialog closes. */
export interface ConfirmRequest {
  title: string;
  message: string;
  /** The confirming button's text, e.g. "Remove". */
  confirm: string;
  onConfirm: () => void;
}

/** Asks before a destructive action; Cancel (or Escape, or the backdrop) does nothing. */
export function ConfirmDialog(props: { request: ConfirmRequest; onClose: () => void }): JSX.Element {
  const { request, onClose } = props;
  return (
    <Modal title={request.title} onClose={onClose}>
      <div class="confirm" data-testid="confirm">
        <p>{request.message}</p>
        <div class="confirm-actions">
          <button class="secondary small" onClick={onClose} autofocus>
            Cancel
          </button>
          <button
            class="primary small danger-fill"
            onClick={() => {
              onClose();
              request.onConfirm();
            }}
          >
            {request.confirm}
          </button>
        </div>
      </div>
    </Modal>
  );
}

/**
 * A confirmation to render and a function that opens it: `ask({...})` shows the dialog,
 * and its action runs only when confirmed.
 */
export function useConfirm(): [JSX.Element | null, (request: ConfirmRequest) => void] {
  const [request, setRequest] = useState<ConfirmRequest | null>(null);
  const dialog =
    request === null ? null : <ConfirmDialog request={request} onClose={() => setRequest(null)} />;
  return [dialog, setRequest];
}
