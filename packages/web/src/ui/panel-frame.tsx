/** A left-hand panel's frame: Back, title and body; Escape goes back too. */
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useRef } from 'preact/hooks';
import { back } from '../lib/route.js';
import { Icon } from './icons.js';

export function PanelFrame(props: {
  title: string;
  children: ComponentChildren;
  testid: string;
}): JSX.Element {
  const ref = useRef<HTMLElement>(null);
  const backRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    // Keyboard users land in the panel: on its first field if it focused one, else on Back.
    if (ref.current !== null && !ref.current.contains(document.activeElement)) backRef.current?.focus();
  }, []);
  return (
    <section
      class="panel"
      aria-label={props.title}
      data-testid={props.testid}
      ref={ref}
      onKeyDown={(e) => {
        if (e.key === 'Escape') back({ panel: null });
      }}
    >
      <header class="bar panel-bar">
        <button class="icon-btn" ref={backRef} onClick={() => back({ panel: null })} aria-label="Back">
          <Icon name="back" />
        </button>
        <h1 class="bar-title">{props.title}</h1>
      </header>
      <div class="panel-body">{props.children}</div>
    </section>
  );
}
