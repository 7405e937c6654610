import type { JSX } from 'preact';
import { colorIndex, initials } from '../lib/format.js';

/** Initials on a colour picked from the id; a green dot when `online`. */
export function Avatar(props: {
  id: string;
  name: string;
  size?: number;
  online?: boolean;
  group?: boolean;
}): JSX.Element {
  const size = props.size ?? 48;
  return (
    <span
      class={`avatar c${colorIndex(props.id)}`}
      style={{ width: `${size}px`, height: `${size}px`, fontSize: `${Math.round(size * 0.38)}px` }}
      aria-hidden="true"
    >
      {initials(props.name)}
      {props.online === true && <span class="dot" />}
    </span>
  );
}
