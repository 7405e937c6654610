/** `memo` without preact/compat: skip re-rendering a component whose props are shallowly equal. */
import { Component, h } from 'preact';
import type { ComponentChildren, FunctionComponent } from 'preact';

function shallowEqual(a: object, b: object): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) {
    if (k === 'children') continue;
    if (!Object.is((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}

export function memo<P extends object>(fn: FunctionComponent<P>): FunctionComponent<P> {
  class Memo extends Component<P> {
    override shouldComponentUpdate(next: P): boolean {
      return !shallowEqual(this.props, next);
    }
    override render(): ComponentChildren {
      return h(fn, this.props);
    }
  }
  return Memo as unknown as FunctionComponent<P>;
}
