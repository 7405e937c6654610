/**
 * Message search (`GET /v1/search`): the query and its filters, the hits found so far and the
 * next page's cursor. The sidebar shows it; a chat's "Search in this chat" sets its filter.
 */
import { foldInto } from '@parley/client';
import type { Message, ParleyHttp, SearchHit, SearchQuery } from '@parley/client';

/** Wait after the last keystroke before asking the server (it allows 5 searches a second). */
export const SEARCH_DEBOUNCE_MS = 250;
/** The server's longest `q`. */
export const MAX_QUERY = 256;

export type DatePreset = 'any' | '7' | '30' | 'custom';

export interface SearchFilters {
  /** Only this conversation. */
  conversation: string | null;
  /** Only messages of this user id (offered once a conversation is chosen). */
  sender: string | null;
  date: DatePreset;
  /** For `custom`: days as `YYYY-MM-DD` (local time), both included; '' for no bound. */
  from: string;
  to: string;
}

export type SearchStatus = 'idle' | 'loading' | 'done' | 'error';

const NO_FILTERS: SearchFilters = { conversation: null, sender: null, date: 'any', from: '', to: '' };
const DAY = 24 * 60 * 60 * 1000;

/** The `before`/`after` bounds (ms, exclusive) of a date filter. */
export function dateBounds(f: SearchFilters, now = Date.now()): { before?: number; after?: number } {
  if (f.date === '7' || f.date === '30') return { after: now - Number(f.date) * DAY };
  if (f.date !== 'custom') return {};
  const day = (s: string) => (/^\d{4}-\d{2}-\d{2}$/.test(s) ? new Date(`${s}T00:00:00`).getTime() : NaN);
  const from = day(f.from);
  const to = day(f.to);
  const out: { before?: number; after?: number } = {};
  if (Number.isFinite(from)) out.after = from - 1;
  // The whole "to" day counts: before the next midnight.
  if (Number.isFinite(to)) out.before = new Date(to).setDate(new Date(to).getDate() + 1);
  return out;
}

export class MessageSearch {
  query = '';
  filters: SearchFilters = NO_FILTERS;
  hits: SearchHit[] = [];
  cursor: string | null = null;
  status: SearchStatus = 'idle';
  error: string | null = null;
  /** Bumped to ask the search field to take the focus. */
  focusRequest = 0;

  #timer: ReturnType<typeof setTimeout> | undefined;
  /** Bumped per search: answers to older ones are dropped. */
  #generation = 0;

  constructor(
    private readonly http: () => ParleyHttp | null,
    private readonly changed: () => void,
    private readonly errorText: (err: unknown) => string,
  ) {}

  /** The search shows instead of the chat list: words typed, or a chat chosen to search in. */
  get active(): boolean {
    return this.query.trim() !== '' || this.filters.conversation !== null;
  }

  setQuery(q: string): void {
    this.query = q.slice(0, MAX_QUERY);
    this.#schedule();
  }

  setFilters(patch: Partial<SearchFilters>): void {
    const next = { ...this.filters, ...patch };
    // A sender is chosen among one chat's members.
    if (next.conversation === null) next.sender = null;
    this.filters = next;
    this.#schedule();
  }

  /** "Search in this chat": filter on it and bring the field into focus. */
  within(conversationId: string): void {
    if (this.filters.conversation !== conversationId) {
      this.filters = { ...this.filters, conversation: conversationId, sender: null };
      this.#schedule();
    }
    this.focus();
  }

  focus(): void {
    this.focusRequest++;
    this.changed();
  }

  /** Leave the search: no words, no filters, no hits. */
  clear(): void {
    this.query = '';
    this.filters = NO_FILTERS;
    this.#reset();
    this.changed();
  }

  /**
   * A message event from the feed: a hit it edits shows the new text (its highlights, ranges
   * of the old text, go), and one deleted for everyone or hidden for me leaves the results.
   */
  apply(event: Message): void {
    if (event.kind === 'text' || event.target === undefined) return;
    const at = this.hits.findIndex(
      (h) => h.conversationId === event.conversationId && h.seq === event.target,
    );
    const hit = this.hits[at];
    if (hit === undefined) return;
    const message = event.kind === 'hide' ? hit.message : foldInto(hit.message, event);
    const gone = event.kind === 'hide' || message.deleted === true;
    this.hits = gone
      ? this.hits.filter((_, i) => i !== at)
      : this.hits.map((h, i) =>
          i === at ? { ...h, message, highlights: message.text === h.message.text ? h.highlights : [] } : h,
        );
    this.changed();
  }

  /** The next page of hits. */
  async more(): Promise<void> {
    if (this.cursor === null || this.status === 'loading') return;
    await this.#run(this.cursor);
  }

  #reset(): void {
    clearTimeout(this.#timer);
    this.#generation++;
    this.hits = [];
    this.cursor = null;
    this.status = 'idle';
    this.error = null;
  }

  #schedule(): void {
    this.#reset();
    if (this.query.trim() !== '') {
      this.status = 'loading';
      this.#timer = setTimeout(() => void this.#run(null), SEARCH_DEBOUNCE_MS);
    }
    this.changed();
  }

  async #run(cursor: string | null): Promise<void> {
    const http = this.http();
    if (http === null) return;
    const generation = ++this.#generation;
    const f = this.filters;
    const query: SearchQuery = { q: this.query.trim(), ...dateBounds(f) };
    if (f.conversation !== null) query.conversation = f.conversation;
    if (f.sender !== null) query.sender = f.sender;
    if (cursor !== null) query.cursor = cursor;
    this.status = 'loading';
    this.error = null;
    this.changed();
    try {
      const page = await http.search(query);
      if (generation !== this.#generation) return;
      this.hits = cursor === null ? page.hits : [...this.hits, ...page.hits];
      this.cursor = page.cursor;
      this.status = 'done';
    } catch (err) {
      if (generation !== this.#generation) return;
      this.status = 'error';
      this.error = this.errorText(err);
    }
    this.changed();
  }
}
