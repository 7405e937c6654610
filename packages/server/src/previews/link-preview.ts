/**
 * Link previews: the title, description and image of the page a message links to. The page
 * is a URL any user chooses, so every hop (redirects included) goes through the same address
 * guard as Web Push (net/address-guard.ts), and the fetch is bounded in time, bytes and hops.
 * Only the page's head is wanted: it is parsed as it streams in and the connection is dropped
 * once the head is over.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Parser } from 'htmlparser2';
import type { LinkPreview as ProtocolLinkPreview } from '@parley/protocol';
import { checkConnectAddress, guardedLookup, isPrivateHost, isPublicAddress } from '../net/address-guard.js';
import type { AddressPolicy, LookupFunction } from '../net/address-guard.js';

export interface LinkPreview {
  /** The page's final URL (after redirects), or its `og:url` when that is on the same site. */
  url: string;
  title: string;
  description?: string;
  siteName?: string;
  /** Absolute http(s) URL of the page's image. */
  image?: string;
}

/**
 * A preview as messages carry it (`LinkPreview` of the protocol): no image, as an external
 * image would tell its site who reads the message, and the apps' CSP allows none.
 */
export function withoutImage(p: LinkPreview): ProtocolLinkPreview {
  const out: ProtocolLinkPreview = { url: p.url, title: p.title };
  if (p.description !== undefined) out.description = p.description;
  if (p.siteName !== undefined) out.siteName = p.siteName;
  return out;
}

export interface LinkPreviewerOptions {
  /** Fetch previews at all; false: `preview` answers null at once. */
  enabled: boolean;
  /** Time for the whole fetch, redirects included, ms. Default 3000. */
  timeoutMs?: number;
  /** Most bytes of HTML read from the final page; past it reading stops. Default 512 KiB. */
  maxBytes?: number;
  /** Redirects followed; one more gives no preview. Default 3. */
  maxRedirects?: number;
  /** User-Agent header sent. */
  userAgent?: string;
  /** Results (previews and failures) remembered, least recently used dropped first. Default 1000. */
  cacheSize?: number;
  /** How long a result is remembered, ms. Default 3600000 (1 h). */
  cacheTtlMs?: number;
  /** Let fetches reach loopback, private and other non-public addresses (tests only). Default false. */
  allowPrivate?: boolean;
  /** Resolver the address guard checks (tests inject one). Default: the system resolver. */
  lookup?: LookupFunction;
  /** Addresses the guard lets through (tests let one loopback address pass). Default: public ones. */
  allowAddress?: AddressPolicy;
}

export const LINK_PREVIEW_TIMEOUT_MS = 3000;
export const LINK_PREVIEW_MAX_BYTES = 512 * 1024;
export const LINK_PREVIEW_MAX_REDIRECTS = 3;
export const LINK_PREVIEW_CACHE_SIZE = 1000;
export const LINK_PREVIEW_CACHE_TTL_MS = 3_600_000;
/** Sites commonly serve their preview tags to a `compatible` bot agent like this one. */
export const LINK_PREVIEW_USER_AGENT = 'Mozilla/5.0 (compatible; ParleyLinkPreview/0.1)';
/** Longest URL taken from a message, fetched or kept as an image. */
export const MAX_URL_LENGTH = 2048;
/** Longest title, description and site name kept, characters. */
export const MAX_TITLE_CHARS = 200;
export const MAX_DESCRIPTION_CHARS = 400;
export const MAX_SITE_NAME_CHARS = 100;

// The first URL of a message is found as the apps find it (shared with them).
export { firstUrl } from '@parley/protocol';

// --------------------------------------------------------------------------------------------
// Cleaning what a page says

// C0 and C1 controls, and the bidi marks, embeddings, overrides and isolates that could turn
// the text around it (or the chat around the card) backwards.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;

/** Whitespace collapsed, controls and bidi characters dropped, cut to `max` code points. */
export function cleanText(value: string | undefined, max: number): string | undefined {
  if (value === undefined) return undefined;
  const text = value.replace(/\s+/g, ' ').replace(CONTROL, '').trim();
  if (text === '') return undefined;
  const chars = Array.from(text);
  if (chars.length <= max) return text;
  return `${chars
    .slice(0, max - 1)
    .join('')
    .trimEnd()}…`;
}

/** An absolute http(s) URL, `ref` resolved against `base`; undefined otherwise. */
function absoluteUrl(ref: string | undefined, base: URL): URL | undefined {
  if (ref === undefined) return undefined;
  const trimmed = ref.replace(CONTROL, '').trim();
  if (trimmed === '') return undefined;
  try {
    const url = new URL(trimmed, base);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (url.username !== '' || url.password !== '') return undefined;
    if (url.href.length > MAX_URL_LENGTH) return undefined;
    return url;
  } catch {
    return undefined;
  }
}

const siteOf = (host: string) => host.toLowerCase().replace(/^www\./, '');

// --------------------------------------------------------------------------------------------
// Reading the head

/** What the head says, first value of each kept. */
interface HeadTags {
  ogTitle?: string;
  ogDescription?: string;
  ogImage?: string;
  ogSiteName?: string;
  ogUrl?: string;
  twitterTitle?: string;
  twitterDescription?: string;
  twitterImage?: string;
  title?: string;
  description?: string;
}

/** Meta names and properties kept (a Map: page text must not reach Object.prototype). */
const META = new Map<string, keyof HeadTags>([
  ['og:title', 'ogTitle'],
  ['og:description', 'ogDescription'],
  ['og:image', 'ogImage'],
  ['og:image:url', 'ogImage'],
  ['og:image:secure_url', 'ogImage'],
  ['og:site_name', 'ogSiteName'],
  ['og:url', 'ogUrl'],
  ['twitter:title', 'twitterTitle'],
  ['twitter:description', 'twitterDescription'],
  ['twitter:image', 'twitterImage'],
  ['twitter:image:src', 'twitterImage'],
  ['description', 'description'],
]);

/**
 * A streaming reader of a page's head. `done` turns true at `</head>` or `<body>` once a
 * title is known; without one it keeps looking (some pages put their tags late).
 */
class HeadReader {
  readonly tags: HeadTags = {};
  done = false;
  private inHead = true;
  private titleText: string | null = null;
  private readonly parser: Parser;

  constructor() {
    this.parser = new Parser(
      {
        onopentag: (name, attribs) => this.open(name, attribs),
        ontext: (text) => {
          if (this.titleText !== null) this.titleText += text;
        },
        onclosetag: (name) => {
          if (name === 'title' && this.titleText !== null) {
            this.tags.title ??= this.titleText;
            this.titleText = null;
          } else if (name === 'head') this.endOfHead();
        },
      },
      { decodeEntities: true },
    );
  }

  write(text: string): void {
    if (!this.done) this.parser.write(text);
  }

  end(): void {
    if (!this.done) this.parser.end();
    if (this.titleText !== null) this.tags.title ??= this.titleText;
  }

  private open(name: string, attribs: Record<string, string>): void {
    if (name === 'body') this.endOfHead();
    else if (name === 'title' && this.inHead) this.titleText = '';
    else if (name === 'meta') {
      const key = (attribs.property ?? attribs.name ?? '').trim().toLowerCase();
      const field = META.get(key);
      const content = attribs.content;
      if (field !== undefined && content !== undefined && content.trim() !== '') this.tags[field] ??= content;
    }
  }

  private endOfHead(): void {
    // A <title> after this is an SVG's or a stray one: not the page's.
    this.inHead = false;
    if (
      this.tags.ogTitle !== undefined ||
      this.tags.twitterTitle !== undefined ||
      this.tags.title !== undefined
    ) {
      this.done = true;
      this.parser.pause();
    }
  }
}

/** The preview a page's tags give, or null when they give no title. */
function toPreview(tags: HeadTags, finalUrl: URL): LinkPreview | null {
  const title = cleanText(tags.ogTitle ?? tags.twitterTitle ?? tags.title, MAX_TITLE_CHARS);
  if (title === undefined) return null;
  const preview: LinkPreview = { url: finalUrl.href, title };
  const canonical = absoluteUrl(tags.ogUrl, finalUrl);
  if (
    canonical !== undefined &&
    siteOf(canonical.hostname) === siteOf(finalUrl.hostname) &&
    (canonical.protocol === 'https:' || canonical.protocol === finalUrl.protocol)
  )
    preview.url = canonical.href;
  const description = cleanText(
    tags.ogDescription ?? tags.twitterDescription ?? tags.description,
    MAX_DESCRIPTION_CHARS,
  );
  if (description !== undefined) preview.description = description;
  const siteName = cleanText(tags.ogSiteName, MAX_SITE_NAME_CHARS);
  if (siteName !== undefined) preview.siteName = siteName;
  const image = absoluteUrl(tags.ogImage ?? tags.twitterImage, finalUrl);
  if (image !== undefined) preview.image = image.href;
  return preview;
}

/** A decoder for a `content-type`'s charset: UTF-8 unless another one is named and known. */
function decoderFor(contentType: string): TextDecoder {
  const charset = /;\s*charset\s*=\s*"?([^";\s]+)/i.exec(contentType)?.[1]?.toLowerCase();
  if (charset !== undefined) {
    try {
      // latin1, iso-8859-1 and us-ascii are windows-1252 to TextDecoder, as to browsers.
      return new TextDecoder(charset);
    } catch {
      // An unknown label: read it as UTF-8, the likeliest.
    }
  }
  return new TextDecoder('utf-8');
}

// --------------------------------------------------------------------------------------------
// Fetching

/** Why a fetch gave no preview; kept out of the result (a preview is there or not). */
class NoPreview extends Error {}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const HTML = /^(text\/html|application\/xhtml\+xml)\s*(;|$)/i;

/** Fetches and remembers link previews. */
export class LinkPreviewer {
  readonly enabled: boolean;
  private readonly timeoutMs: number;
  private readonly maxBytes: number;
  private readonly maxRedirects: number;
  private readonly userAgent: string;
  private readonly cacheSize: number;
  private readonly cacheTtlMs: number;
  /** The guarded resolver, and the addresses it lets through; none with `allowPrivate`. */
  private readonly guard: LookupFunction | undefined;
  private readonly allowed: AddressPolicy;
  /** Insertion order is recency: a hit is moved to the end, the first entry goes first. */
  private readonly cache = new Map<string, { at: number; result: LinkPreview | null }>();
  private readonly inFlight = new Map<string, Promise<LinkPreview | null>>();

  constructor(opts: LinkPreviewerOptions) {
    this.enabled = opts.enabled;
    this.timeoutMs = opts.timeoutMs ?? LINK_PREVIEW_TIMEOUT_MS;
    this.maxBytes = opts.maxBytes ?? LINK_PREVIEW_MAX_BYTES;
    this.maxRedirects = opts.maxRedirects ?? LINK_PREVIEW_MAX_REDIRECTS;
    this.userAgent = opts.userAgent ?? LINK_PREVIEW_USER_AGENT;
    this.cacheSize = opts.cacheSize ?? LINK_PREVIEW_CACHE_SIZE;
    this.cacheTtlMs = opts.cacheTtlMs ?? LINK_PREVIEW_CACHE_TTL_MS;
    this.allowed = opts.allowAddress ?? isPublicAddress;
    this.guard = opts.allowPrivate ? undefined : guardedLookup(opts.lookup, this.allowed);
  }

  /**
   * The preview of the page at `url`, or null: previews off, a URL that is not plain http(s),
   * a non-public address, a failure, a timeout, too many redirects, not HTML, or no title.
   * Never rejects. Results are remembered, and asking again while a fetch runs joins it.
   */
  preview(url: string): Promise<LinkPreview | null> {
    if (!this.enabled) return Promise.resolve(null);
    const start = this.checkUrl(url);
    if (start === null) return Promise.resolve(null);
    const key = start.href;
    const hit = this.cache.get(key);
    if (hit !== undefined) {
      this.cache.delete(key);
      if (Date.now() - hit.at < this.cacheTtlMs) {
        this.cache.set(key, hit);
        return Promise.resolve(hit.result);
      }
    }
    const running = this.inFlight.get(key);
    if (running !== undefined) return running;
    const job = this.fetchPreview(start)
      .catch(() => null)
      .then((result) => {
        this.inFlight.delete(key);
        this.remember(key, result);
        return result;
      });
    this.inFlight.set(key, job);
    return job;
  }

  /**
   * The remembered preview of `url`, or null when there is none yet (or it failed, or expired).
   * Never fetches: a send attaches what the sender's app already asked for.
   */
  cached(url: string): LinkPreview | null {
    if (!this.enabled) return null;
    const start = this.checkUrl(url);
    if (start === null) return null;
    const hit = this.cache.get(start.href);
    if (hit === undefined || Date.now() - hit.at >= this.cacheTtlMs) return null;
    return hit.result;
  }

  private remember(key: string, result: LinkPreview | null): void {
    if (this.cacheSize <= 0) return;
    this.cache.delete(key);
    this.cache.set(key, { at: Date.now(), result });
    while (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
  }

  /** The URL to fetch (no fragment), or null when it may not be fetched. */
  private checkUrl(raw: string | URL): URL | null {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      return null;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
    if (url.username !== '' || url.password !== '' || url.hostname === '') return null;
    url.hash = '';
    if (url.href.length > MAX_URL_LENGTH) return null;
    if (this.guard !== undefined && isPrivateHost(url.hostname, this.allowed)) return null;
    return url;
  }

  private async fetchPreview(start: URL): Promise<LinkPreview | null> {
    const deadline = Date.now() + this.timeoutMs;
    let url = start;
    for (let hop = 0; ; hop++) {
      const left = deadline - Date.now();
      if (left <= 0) return null;
      const outcome = await this.fetchOnce(url, left);
      if (outcome.kind === 'page') return toPreview(outcome.tags, url);
      if (hop >= this.maxRedirects) return null;
      const next = this.checkUrl(new URL(outcome.location, url));
      if (next === null) return null;
      url = next;
    }
  }

  /** One request: a redirect's target, or the tags of the page. Rejects on anything else. */
  private fetchOnce(
    url: URL,
    timeoutMs: number,
  ): Promise<{ kind: 'redirect'; location: string } | { kind: 'page'; tags: HeadTags }> {
    const tls = url.protocol === 'https:';
    // IP literals were checked with the URL (checkUrl): no lookup happens for them.
    const host = url.hostname.replace(/^\[|\]$/g, '');
    return new Promise((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | null, value?: Parameters<typeof resolve>[0]) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        req.destroy();
        if (err) reject(err);
        else resolve(value as Parameters<typeof resolve>[0]);
      };
      const req = (tls ? https : http).get(url, {
        agent: false,
        headers: {
          'user-agent': this.userAgent,
          accept: 'text/html,application/xhtml+xml;q=0.9,*/*;q=0.1',
          'accept-encoding': 'identity',
        },
        ...(this.guard !== undefined ? { lookup: this.guard } : {}),
      });
      const timer = setTimeout(() => finish(new NoPreview(`timed out after ${timeoutMs} ms`)), timeoutMs);
      req.on('socket', (socket: Socket) => {
        if (this.guard === undefined) return;
        socket.once('connect', () => {
          // The address really connected to, whatever resolved it.
          try {
            checkConnectAddress(host, socket.remoteAddress, this.allowed);
          } catch (err) {
            finish(err as Error);
          }
        });
      });
      req.on('error', (err) => finish(err));
      req.on('response', (res: IncomingMessage) => {
        const status = res.statusCode ?? 0;
        const location = res.headers.location;
        if (REDIRECTS.has(status) && location !== undefined && location !== '') {
          return finish(null, { kind: 'redirect', location });
        }
        const type = res.headers['content-type'] ?? '';
        const encoding = (res.headers['content-encoding'] ?? 'identity').toLowerCase();
        if (status < 200 || status > 299) return finish(new NoPreview(`status ${status}`));
        if (!HTML.test(type)) return finish(new NoPreview(`not HTML: ${type}`));
        if (encoding !== 'identity') return finish(new NoPreview(`encoded: ${encoding}`));
        const decoder = decoderFor(type);
        const head = new HeadReader();
        let read = 0;
        const page = () => {
          if (settled) return;
          head.write(decoder.decode());
          head.end();
          finish(null, { kind: 'page', tags: head.tags });
        };
        res.on('data', (chunk: Buffer) => {
          if (settled) return;
          const room = this.maxBytes - read;
          const part = chunk.length > room ? chunk.subarray(0, room) : chunk;
          read += part.length;
          head.write(decoder.decode(part, { stream: true }));
          // Enough: the head is over, or the byte cap reached. The connection goes with the rest.
          if (head.done || read >= this.maxBytes) page();
        });
        res.on('end', page);
        res.on('error', (err) => finish(err));
        res.on('close', () => finish(new NoPreview('connection closed before the page ended')));
      });
    });
  }
}
