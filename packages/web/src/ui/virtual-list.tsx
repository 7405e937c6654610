/**
 * A virtualised, bottom-anchored list for chat history: only the rows near the viewport are
 * in the DOM, so a conversation of 100,000 messages scrolls like one of 100.
 *
 * Rows have different heights. Each row's height is measured once it is rendered (and again
 * when it resizes); rows never rendered use an estimate. Estimates are wrong, so the list
 * keeps an anchor (a row's key and the distance from its top to the viewport's top) and,
 * whenever heights or rows change, puts the anchor back where it was: loading older
 * messages above, or measuring rows, never moves what the reader is looking at. At the
 * bottom, the list sticks to the bottom instead, as messengers do.
 */
import type { ComponentChildren, Ref } from 'preact';
import { useEffect, useImperativeHandle, useLayoutEffect, useRef, useState } from 'preact/hooks';

export interface ListItem {
  key: string;
}

/** What the list shows, reported after every scroll and layout. */
export interface ViewState {
  /** The end of the list is in view (new rows will keep it in view). */
  atBottom: boolean;
  /** Index of the first and last row at least partly in the viewport. */
  first: number;
  last: number;
}

export interface VirtualListHandle {
  scrollToBottom(): void;
  /** Bring the row with this key near the top (false when no such row is in the list). */
  scrollToKey(key: string): boolean;
  /** The scrolling element (tests and keyboard handling). */
  element(): HTMLDivElement | null;
}

interface Props<T extends ListItem> {
  items: readonly T[];
  /** Height guess for a row that has not been rendered yet, in px, at the given list width. */
  estimate: (item: T, width: number) => number;
  render: (item: T, index: number) => ComponentChildren;
  /** Key of the row to show at the top when the list first appears; default: the bottom. */
  initialKey?: string;
  onView?: (view: ViewState) => void;
  /** Called while the top is within about two screens (load older rows). */
  onNearTop?: () => void;
  /**
   * Whether a row may serve as the scroll anchor. Rows that move when rows are added above
   * them (a "loading" header, a day separator that belongs to the oldest loaded message)
   * must not. Default: every row.
   */
  canAnchor?: (item: T) => boolean;
  /** Extra render trigger for rows whose content changed without a new items array. */
  rev?: unknown;
  handle?: Ref<VirtualListHandle>;
  className?: string;
  label?: string;
}

const OVERSCAN_PX = 800;
const BOTTOM_SLACK_PX = 24;

interface Anchor {
  key: string;
  /** scrollTop minus the row's bottom. */
  delta: number;
}

export function VirtualList<T extends ListItem>(props: Props<T>) {
  const { items, estimate, render } = props;
  const scroller = useRef<HTMLDivElement>(null);
  const inner = useRef<HTMLDivElement>(null);
  const heights = useRef(new Map<string, number>()).current;
  const s = useRef({
    offsets: new Float64Array(1),
    index: new Map<string, number>(),
    items: [] as readonly T[],
    dirty: true,
    width: 0,
    stick: props.initialKey === undefined,
    anchor: null as Anchor | null,
    /** Row to bring to the top on the first layout (e.g. the "unread messages" line). */
    initialKey: props.initialKey,
    restoring: false,
    /**
     * The list has no size (an ancestor is `display: none`, as the chat is behind the info
     * screen on a phone): nothing is measured or re-anchored until it shows again.
     */
    hidden: false,
    /** scrollTop when the anchor was last taken or restored: another value means the reader scrolled. */
    lastTop: -1,
    /** Rows rendered now. */
    range: [0, 0] as [number, number],
    /** The range in component state (may lag `range` by one render after rows change). */
    state: [0, 0] as [number, number],
  }).current;
  const [range, setRange] = useState<[number, number]>(() => {
    const at = props.initialKey === undefined ? -1 : items.findIndex((it) => it.key === props.initialKey);
    return at < 0 ? [Math.max(0, items.length - 30), items.length] : [Math.max(0, at - 10), at + 30];
  });
  s.state = range;
  const callbacks = useRef(props);
  callbacks.current = props;

  let shifted = range;
  if (s.items !== items) {
    // Rows were added or removed: keep rendering the same rows (by key) until the layout
    // effect works out the new range, so rows loaded above do not flash in.
    const firstKey = s.items[range[0]]?.key;
    const prev = s.items;
    // A scroll not seen yet (its event comes a frame later) must be anchored with the old rows.
    const el = scroller.current;
    if (el !== null && prev.length > 0 && Math.abs(el.scrollTop - s.lastTop) >= 1) capture(el);
    s.items = items;
    s.dirty = true;
    if (firstKey !== undefined && prev.length > 0) {
      const at = layoutIndex(firstKey);
      if (at !== undefined && at !== range[0]) shifted = [at, at + (range[1] - range[0])];
    }
  }

  function layout(): Float64Array {
    if (!s.dirty) return s.offsets;
    const n = s.items.length;
    const offsets = new Float64Array(n + 1);
    const index = new Map<string, number>();
    const w = s.width || 600;
    for (let i = 0; i < n; i++) {
      const it = s.items[i] as T;
      index.set(it.key, i);
      offsets[i + 1] = (offsets[i] ?? 0) + (heights.get(it.key) ?? estimate(it, w));
    }
    s.offsets = offsets;
    s.index = index;
    s.dirty = false;
    return offsets;
  }

  function layoutIndex(key: string): number | undefined {
    layout();
    return s.index.get(key);
  }

  /** First row whose bottom is below `y`. */
  function rowAt(y: number): number {
    const o = layout();
    let lo = 0;
    let hi = s.items.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((o[mid + 1] ?? 0) <= y) lo = mid + 1;
      else hi = mid;
    }
    return Math.max(0, lo);
  }

  function wantedRange(el: HTMLDivElement): [number, number] {
    const n = s.items.length;
    if (n === 0) return [0, 0];
    const o = layout();
    const top = el.scrollTop - OVERSCAN_PX;
    const bottom = el.scrollTop + el.clientHeight + OVERSCAN_PX;
    const start = rowAt(Math.max(0, top));
    let end = start;
    while (end < n && (o[end] ?? 0) < bottom) end++;
    return [start, Math.max(end, Math.min(n, start + 1))];
  }

  function report(el: HTMLDivElement): void {
    const n = s.items.length;
    const o = layout();
    const first = rowAt(el.scrollTop);
    let last = first;
    const bottom = el.scrollTop + el.clientHeight;
    while (last + 1 < n && (o[last + 1] ?? 0) < bottom) last++;
    callbacks.current.onView?.({ atBottom: s.stick, first, last: Math.min(last, n - 1) });
    if (el.scrollTop < el.clientHeight * 2) callbacks.current.onNearTop?.();
  }

  /** Measure rendered rows, then put the anchor (or the bottom) back in place. */
  function relayout(): void {
    const el = scroller.current;
    const box = inner.current;
    if (el === null || box === null) return;
    if (el.clientHeight === 0 || el.clientWidth === 0) {
      // Measuring now would read zero sizes and a scrollTop of 0, and throw the position away.
      s.hidden = true;
      return;
    }
    if (s.hidden) {
      // Hiding reset scrollTop to 0: that is not the reader scrolling, so restore, don't capture.
      s.hidden = false;
      s.lastTop = -1;
    }
    if (s.lastTop >= 0 && Math.abs(el.scrollTop - s.lastTop) >= 1) capture(el);
    if (el.clientWidth !== s.width) {
      if (s.width !== 0) heights.clear();
      s.width = el.clientWidth;
      s.dirty = true;
    }
    for (const child of Array.from(box.children) as HTMLElement[]) {
      const key = child.dataset.key;
      if (key === undefined) continue;
      const h = child.getBoundingClientRect().height;
      if (h > 0 && heights.get(key) !== h) {
        heights.set(key, h);
        s.dirty = true;
      }
    }
    const o = layout();
    const [start, end] = s.range;
    const total = o[s.items.length] ?? 0;
    box.style.paddingTop = `${o[start] ?? 0}px`;
    box.style.paddingBottom = `${Math.max(0, total - (o[end] ?? total))}px`;

    s.restoring = true;
    if (s.initialKey !== undefined) {
      const i = s.index.get(s.initialKey);
      s.initialKey = undefined;
      if (i !== undefined) el.scrollTop = Math.max(0, (o[i] ?? 0) - 16);
      s.stick = el.scrollHeight - el.clientHeight - el.scrollTop <= BOTTOM_SLACK_PX;
    } else if (s.stick) {
      el.scrollTop = el.scrollHeight;
    } else if (s.anchor !== null) {
      const i = s.index.get(s.anchor.key);
      if (i !== undefined) {
        const want = (o[i + 1] ?? 0) + s.anchor.delta;
        if (Math.abs(el.scrollTop - want) >= 1) el.scrollTop = want;
      }
    }
    s.restoring = false;
    // Keep the anchor: taking a new one here would pick a row whose height is still a guess.
    if (s.anchor === null || !s.index.has(s.anchor.key)) capture(el);
    s.lastTop = el.scrollTop;
    updateRange(el);
    report(el);
  }

  function updateRange(el: HTMLDivElement): void {
    const next = wantedRange(el);
    // Render again only if that would change something: the rendered rows are the wanted ones
    // clamped, so a wanted range the clamp overrides must not re-render forever.
    const rendered = clampRange(next, s.items.length, s.stick);
    if (
      next[0] !== s.state[0] ||
      next[1] !== s.state[1] ||
      rendered[0] !== s.range[0] ||
      rendered[1] !== s.range[1]
    ) {
      s.state = next;
      setRange(next);
    }
  }

  /** Remember what is at the top of the viewport, and whether we are at the bottom. */
  function capture(el: HTMLDivElement): void {
    // A hidden list reads as scrolled to the top and at the bottom at once: keep the old anchor.
    if (s.items.length === 0 || el.clientHeight === 0) return;
    const o = layout();
    const canAnchor = callbacks.current.canAnchor;
    let i = rowAt(el.scrollTop);
    const bottom = el.scrollTop + el.clientHeight;
    while (canAnchor !== undefined && i + 1 < s.items.length && (o[i + 1] ?? 0) < bottom) {
      const it = s.items[i];
      if (it === undefined || canAnchor(it)) break;
      i++;
    }
    const it = s.items[i];
    // Measured from the row's bottom: a row whose top padding changes (it stops being the
    // first of a group when older rows arrive) keeps its content in place.
    if (it !== undefined) s.anchor = { key: it.key, delta: el.scrollTop - (o[i + 1] ?? 0) };
    s.stick = el.scrollHeight - el.clientHeight - el.scrollTop <= BOTTOM_SLACK_PX;
    s.lastTop = el.scrollTop;
  }

  function onScroll(): void {
    const el = scroller.current;
    if (el === null || s.restoring) return;
    if (s.hidden) {
      // Shown again: put the position back before taking any scroll as the reader's.
      relayout();
      return;
    }
    // Our own scrollTop writes fire scroll events too: only a move by the reader re-anchors.
    if (Math.abs(el.scrollTop - s.lastTop) >= 1) capture(el);
    updateRange(el);
    report(el);
  }

  const [start, end] = clampRange(shifted, items.length, s.stick);
  s.range = [start, end];

  useLayoutEffect(() => {
    relayout();
  });

  useEffect(() => {
    const el = scroller.current;
    if (el === null || typeof ResizeObserver === 'undefined') return undefined;
    let frame = 0;
    const ro = new ResizeObserver(() => {
      cancelAnimationFrame(frame);
      frame = requestAnimationFrame(relayout);
    });
    ro.observe(el);
    const box = inner.current;
    if (box !== null) ro.observe(box);
    return () => {
      cancelAnimationFrame(frame);
      ro.disconnect();
    };
  }, []);

  useImperativeHandle(props.handle ?? null, () => ({
    scrollToBottom() {
      const el = scroller.current;
      if (el === null) return;
      s.stick = true;
      s.range = s.state = [Math.max(0, s.items.length - 30), s.items.length];
      setRange(s.range);
      el.scrollTop = el.scrollHeight;
      relayout();
    },
    scrollToKey(key) {
      const at = s.items.findIndex((it) => it.key === key);
      if (at < 0) return false;
      s.stick = false;
      s.anchor = null;
      s.initialKey = key;
      s.range = s.state = [Math.max(0, at - 10), Math.min(s.items.length, at + 30)];
      setRange(s.range);
      relayout();
      return true;
    },
    element: () => scroller.current,
  }));

  return (
    <div
      class={props.className}
      ref={scroller}
      onScroll={onScroll}
      role="log"
      aria-label={props.label}
      tabIndex={0}
    >
      <div class="vl-inner" ref={inner}>
        {items.slice(start, end).map((item, i) => (
          <div key={item.key} data-key={item.key} class="vl-row">
            {render(item, start + i)}
          </div>
        ))}
      </div>
    </div>
  );
}

function clampRange(range: [number, number], n: number, stick: boolean): [number, number] {
  let [start, end] = range;
  if (stick && end < n) {
    // New rows at the end while following the bottom: render them.
    start = Math.max(0, Math.min(start, n - 30));
    end = n;
  }
  end = Math.min(end, n);
  start = Math.min(start, Math.max(0, end - 1));
  return [start, end];
}
