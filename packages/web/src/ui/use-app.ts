/** Re-render a component when the app state changes. */
import { useEffect, useReducer } from 'preact/hooks';
import { app } from '../state/store.js';
import type { AppStore } from '../state/store.js';

export function useApp(): AppStore {
  const [, bump] = useReducer((n: number, _: number) => n + 1, 0);
  const renderedRev = app.rev;
  useEffect(() => {
    const off = app.subscribe(() => bump(0));
    // A change between this render and the subscription (effects run after paint) is not missed.
    if (app.rev !== renderedRev) bump(0);
    return off;
  }, []);
  return app;
}
