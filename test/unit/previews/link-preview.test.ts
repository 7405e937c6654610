/**
 * Link previews against real HTTP servers on loopback. Fetching tests let the previewer reach
 * loopback (`allowPrivate`); the SSRF tests keep the guard on and count what reaches the
 * servers, with an injected resolver standing in for DNS.
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPublicAddress } from '../../../packages/server/src/net/address-guard.js';
import type { LookupFunction } from '../../../packages/server/src/net/address-guard.js';
import {
  LinkPreviewer,
  MAX_DESCRIPTION_CHARS,
  MAX_TITLE_CHARS,
  cleanText,
  firstUrl,
} from '../../../packages/server/src/previews/link-preview.js';

type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** An HTTP server with a route per path, logging every request's path. */
class PageServer {
  readonly requests: string[] = [];
  readonly routes = new Map<string, Route>();
  port = 0;
  private readonly server: Server;
  private constructor(readonly host: string) {
    this.server = createServer((req, res) => {
      this.requests.push(req.url ?? '');
      const route = this.routes.get((req.url ?? '').split('?')[0] ?? '');
      if (route === undefined)
        return void res.writeHead(404, { 'content-type': 'text/plain' }).end('nothing');
      void route(req, res);
    });
  }

  static async start(host = '127.0.0.1'): Promise<PageServer> {
    const pages = new PageServer(host);
    pages.server.listen(0, host);
    await once(pages.server, 'listening');
    pages.port = (pages.server.address() as AddressInfo).port;
    return pages;
  }

  url(path: string, host = this.host): string {
    return `http://${host}:${this.port}${path}`;
  }

  /** Requests for `path`, query included. */
  count(path: string): number {
    return this.requests.filter((p) => p === path).length;
  }

  html(path: string, body: string | Buffer, contentType = 'text/html; charset=utf-8', status = 200): void {
    this.routes.set(
      path,
      (_req, res) => void res.writeHead(status, { 'content-type': contentType }).end(body),
    );
  }

  redirect(path: string, location: string, status = 302): void {
    this.routes.set(path, (_req, res) => void res.writeHead(status, { location }).end());
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }
}

/** Until `res` can take more, or is gone. */
function drainOrClose(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const go = () => {
      res.off('drain', go);
      res.off('close', go);
      resolve();
    };
    res.on('drain', go);
    res.on('close', go);
  });
}

/** A resolver with fixed answers, recording what it was asked. */
function resolver(answers: Record<string, string[]>): LookupFunction & { asked: string[] } {
  const asked: string[] = [];
  const fn: LookupFunction = (hostname, _options, callback) => {
    asked.push(hostname);
    const list = answers[hostname];
    if (!list) return callback(Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), '');
    callback(
      null,
      list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };
  return Object.assign(fn, { asked });
}

const page = (head: string, body = '<p>Hello</p>') =>
  `<!doctype html><html><head>${head}</head><body>${body}</body></html>`;

describe('firstUrl', () => {
  it('finds the first http(s) URL, normalized', () => {
    expect(firstUrl('look: https://example.com/a?b=1#c and http://other.example.org/')).toBe(
      'https://example.com/a?b=1#c',
    );
    expect(firstUrl('HTTPS://Example.COM/Path')).toBe('https://example.com/Path');
    expect(firstUrl('https://example.com')).toBe('https://example.com/');
    expect(firstUrl('a line\nthen http://example.com:8080/x')).toBe('http://example.com:8080/x');
  });

  it('leaves trailing punctuation out, but keeps a parenthesis opened in the URL', () => {
    expect(firstUrl('see https://example.com/page.')).toBe('https://example.com/page');
    expect(firstUrl('(https://example.com/page), ok?')).toBe('https://example.com/page');
    expect(firstUrl('wow https://example.com/x!?')).toBe('https://example.com/x');
    expect(firstUrl('*https://example.com/bold*')).toBe('https://example.com/bold');
    expect(firstUrl('https://en.wikipedia.org/wiki/Rust_(language).')).toBe(
      'https://en.wikipedia.org/wiki/Rust_(language)',
    );
    expect(firstUrl('"https://example.com/quoted"')).toBe('https://example.com/quoted');
  });

  it('skips URLs in code spans and code blocks', () => {
    expect(firstUrl('run `curl https://a.example.com` then see https://b.example.com')).toBe(
      'https://b.example.com/',
    );
    expect(firstUrl('```\ncurl https://a.example.com\n```\nhttps://b.example.com/docs')).toBe(
      'https://b.example.com/docs',
    );
    expect(firstUrl('```curl https://a.example.com```')).toBeNull();
    expect(firstUrl('`https://a.example.com`')).toBeNull();
  });

  it('takes nothing that is not an http(s) URL', () => {
    for (const text of [
      '',
      'no links here',
      'www.example.com',
      'ftp://example.com/file',
      'javascript:alert(1)',
      'mailto:someone@example.com',
      'xhttps://example.com',
      'https://',
    ]) {
      expect(firstUrl(text), text).toBeNull();
    }
  });

  it('skips a URL longer than 2048 characters', () => {
    const long = `https://example.com/${'a'.repeat(2040)}`;
    expect(firstUrl(long)).toBeNull();
    expect(firstUrl(`${long} https://example.com/short`)).toBe('https://example.com/short');
    const fits = `https://example.com/${'a'.repeat(2000)}`;
    expect(firstUrl(fits)).toBe(fits);
  });
});

describe('cleanText', () => {
  it('collapses whitespace, drops controls and bidi characters, caps in code points', () => {
    expect(cleanText('  a\n\tb  ', 10)).toBe('a b');
    expect(cleanText('\u202egnp.exe\u0007\u200f\u2066x\u2069', 50)).toBe('gnp.exex');
    expect(cleanText(' \u0000 ', 10)).toBeUndefined();
    expect(cleanText('😀😀😀😀', 3)).toBe('😀😀…');
  });
});

describe('LinkPreviewer fetching pages', () => {
  let pages: PageServer;
  let previewer: LinkPreviewer;
  beforeAll(async () => {
    pages = await PageServer.start();
    previewer = new LinkPreviewer({ enabled: true, allowPrivate: true, cacheSize: 0 });
  });
  afterAll(async () => {
    await pages.close();
  });

  it('reads Open Graph tags, resolving the image and taking a same-site og:url', async () => {
    pages.html(
      '/og',
      page(`
        <meta charset="utf-8">
        <title>Plain title</title>
        <meta property="og:title" content="  The OG title ">
        <meta property="og:description" content="What the page is about.">
        <meta property="og:image" content="https://cdn.example.com/cover.png">
        <meta property="og:site_name" content="Example Site">
        <meta property="og:url" content="${pages.url('/canonical')}">
        <meta name="description" content="Not this one">
        <meta name="__proto__" content="x"><meta name="constructor" content="y">`),
    );
    expect(await previewer.preview(pages.url('/og'))).toEqual({
      url: pages.url('/canonical'),
      title: 'The OG title',
      description: 'What the page is about.',
      siteName: 'Example Site',
      image: 'https://cdn.example.com/cover.png',
    });
  });

  it('falls back to twitter tags, then to <title> and the description meta; ignores another site’s og:url', async () => {
    pages.html(
      '/twitter',
      page(`<meta name="twitter:title" content="Tweet title"><meta name="twitter:description" content="Tweet text">
        <meta name="twitter:image" content="/t.png"><title>Page</title>`),
    );
    expect(await previewer.preview(pages.url('/twitter'))).toEqual({
      url: pages.url('/twitter'),
      title: 'Tweet title',
      description: 'Tweet text',
      image: pages.url('/t.png'),
    });
    pages.html(
      '/plain',
      page(`<TITLE>Just a title</TITLE><META NAME="Description" CONTENT="A description">
        <meta property="og:url" content="https://elsewhere.example.com/x">`),
    );
    expect(await previewer.preview(pages.url('/plain'))).toEqual({
      url: pages.url('/plain'),
      title: 'Just a title',
      description: 'A description',
    });
  });

  it('decodes entities, and reads a latin1 page as its content-type says', async () => {
    pages.html(
      '/entities',
      page(
        `<title>Tom &amp; Jerry&#39;s &eacute;t&eacute; &lt;3 &#x1F600;</title><meta name="description" content="a &quot;quote&quot;">`,
      ),
    );
    expect(await previewer.preview(pages.url('/entities'))).toMatchObject({
      title: "Tom & Jerry's été <3 😀",
      description: 'a "quote"',
    });
    pages.html(
      '/latin1',
      Buffer.from(page('<title>Caf\u00e9 cr\u00e8me \u0092s</title>'), 'latin1'),
      'text/html; charset=ISO-8859-1',
    );
    // Byte 0x92 is a right single quote in windows-1252, as browsers read "latin1".
    expect(await previewer.preview(pages.url('/latin1'))).toMatchObject({ title: 'Café crème ’s' });
    pages.html('/utf8-default', Buffer.from(page('<title>Grüße</title>'), 'utf8'), 'text/html');
    expect(await previewer.preview(pages.url('/utf8-default'))).toMatchObject({ title: 'Grüße' });
  });

  it('resolves a relative image against the final URL and keeps only http(s) images', async () => {
    pages.redirect('/moved', '/articles/one');
    pages.html('/articles/one', page('<title>One</title><meta property="og:image" content="img/a.png?s=1">'));
    expect(await previewer.preview(pages.url('/moved'))).toEqual({
      url: pages.url('/articles/one'),
      title: 'One',
      image: pages.url('/articles/img/a.png?s=1'),
    });
    pages.html(
      '/bad-image',
      page('<title>Bad</title><meta property="og:image" content="javascript:alert(1)">'),
    );
    expect(await previewer.preview(pages.url('/bad-image'))).toEqual({
      url: pages.url('/bad-image'),
      title: 'Bad',
    });
    pages.html(
      '/data-image',
      page('<title>Data</title><meta property="og:image" content="data:image/png;base64,AA">'),
    );
    expect(await previewer.preview(pages.url('/data-image'))).not.toHaveProperty('image');
  });

  it('removes control and bidi characters and caps the title and description', async () => {
    pages.html(
      '/long',
      page(
        `<title>\u202Eevil\u0007 ${'t'.repeat(500)}</title><meta name="description" content="${'d '.repeat(1000)}">`,
      ),
    );
    const got = await previewer.preview(pages.url('/long'));
    expect(got?.title.startsWith('evil tttt')).toBe(true);
    expect(Array.from(got?.title ?? '')).toHaveLength(MAX_TITLE_CHARS);
    expect(got?.title.endsWith('…')).toBe(true);
    expect(Array.from(got?.description ?? '').length).toBeLessThanOrEqual(MAX_DESCRIPTION_CHARS);
    expect(got?.description?.endsWith('…')).toBe(true);
  });

  it('follows redirects up to the cap, and gives nothing past it', async () => {
    pages.html('/r/0', page('<title>Arrived</title>'));
    pages.redirect('/r/1', '/r/0', 301);
    pages.redirect('/r/2', pages.url('/r/1'), 307);
    pages.redirect('/r/3', '2', 308);
    pages.redirect('/r/4', '/r/3', 303);
    expect(await previewer.preview(pages.url('/r/3'))).toEqual({ url: pages.url('/r/0'), title: 'Arrived' });
    const before = pages.count('/r/0');
    expect(await previewer.preview(pages.url('/r/4'))).toBeNull();
    expect(pages.count('/r/1')).toBe(2);
    expect(pages.count('/r/0')).toBe(before);
    const one = new LinkPreviewer({ enabled: true, allowPrivate: true, maxRedirects: 1 });
    expect(await one.preview(pages.url('/r/1'))).toMatchObject({ title: 'Arrived' });
    expect(await one.preview(pages.url('/r/2'))).toBeNull();
  });

  it('gives nothing when the server is too slow', async () => {
    const held: ServerResponse[] = [];
    pages.routes.set('/slow-body', (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.write('<html><head>');
      held.push(res);
    });
    pages.routes.set('/no-answer', (_req, res) => void held.push(res));
    const quick = new LinkPreviewer({ enabled: true, allowPrivate: true, timeoutMs: 200 });
    expect(await quick.preview(pages.url('/slow-body'))).toBeNull();
    expect(await quick.preview(pages.url('/no-answer'))).toBeNull();
    // The server never ends these answers: the previewer dropped both connections.
    expect(held).toHaveLength(2);
    await Promise.all(held.map((res) => (res.destroyed ? undefined : once(res, 'close'))));
    expect(held.every((res) => res.destroyed && !res.writableEnded)).toBe(true);
  });

  /** A page of `prefix` then `total` bytes of filler, written as the reader takes them. */
  function streamed(path: string, prefix: string, filler: string, total: number) {
    const outcome = { sent: 0, complete: false, done: Promise.resolve() };
    outcome.done = new Promise<void>((resolve) => {
      pages.routes.set(path, async (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
        res.write(prefix);
        const chunk = Buffer.from(filler.repeat(Math.ceil(65536 / filler.length)).slice(0, 65536));
        while (outcome.sent < total && !res.destroyed) {
          outcome.sent += chunk.length;
          if (!res.write(chunk)) await drainOrClose(res);
        }
        if (!res.destroyed) {
          outcome.complete = true;
          res.end('</body></html>');
        }
        resolve();
      });
    });
    return outcome;
  }

  it('stops reading at the end of the head', async () => {
    const total = 32 * 1024 * 1024;
    const big = streamed(
      '/head-then-body',
      '<html><head><title>Big body</title></head><body>',
      '<p>filler</p>',
      total,
    );
    // A cap above the page's size: only the end of the head stops the reading.
    const roomy = new LinkPreviewer({ enabled: true, allowPrivate: true, maxBytes: 2 * total });
    expect(await roomy.preview(pages.url('/head-then-body'))).toMatchObject({ title: 'Big body' });
    await big.done;
    expect(big.complete).toBe(false);
    expect(big.sent).toBeLessThan(total);
  });

  it('stops reading at the byte cap, keeping the tags found before it', async () => {
    const total = 32 * 1024 * 1024;
    // A head that never ends: its tags come first, then an endless inline script.
    const big = streamed(
      '/endless-head',
      '<html><head><title>Huge</title><meta property="og:description" content="Found first"><script>',
      'var x = 1;\n',
      total,
    );
    expect(await previewer.preview(pages.url('/endless-head'))).toMatchObject({
      title: 'Huge',
      description: 'Found first',
    });
    await big.done;
    expect(big.complete).toBe(false);
    expect(big.sent).toBeLessThan(total);
    // A title past the cap is not found.
    pages.html('/late-title', page(`<script>${'x'.repeat(8192)}</script><title>Too late</title>`));
    const small = new LinkPreviewer({ enabled: true, allowPrivate: true, maxBytes: 4096 });
    expect(await small.preview(pages.url('/late-title'))).toBeNull();
    expect(await previewer.preview(pages.url('/late-title'))).toMatchObject({ title: 'Too late' });
  });

  it('gives nothing for other content types, error statuses, encoded bodies or pages without a title', async () => {
    pages.html('/json', '{"title":"<title>x</title>"}', 'application/json');
    pages.html('/png', Buffer.from([0x89, 0x50, 0x4e, 0x47]), 'image/png');
    pages.html('/plain-text', '<title>x</title>', 'text/plain');
    pages.routes.set('/no-type', (_req, res) => void res.writeHead(200).end('<title>x</title>'));
    pages.html('/missing', page('<title>Not found</title>'), 'text/html', 404);
    pages.html('/error', page('<title>Oops</title>'), 'text/html', 500);
    pages.routes.set(
      '/gzip',
      (_req, res) =>
        void res.writeHead(200, { 'content-type': 'text/html', 'content-encoding': 'gzip' }).end('<title>x'),
    );
    pages.html('/untitled', page('<meta name="description" content="No title">'));
    pages.html('/empty-title', page('<title>  \u200f </title>'));
    pages.html('/svg-title', page('', '<svg><title>Icon</title></svg>'));
    for (const path of [
      '/json',
      '/png',
      '/plain-text',
      '/no-type',
      '/missing',
      '/error',
      '/gzip',
      '/untitled',
      '/empty-title',
      '/svg-title',
    ]) {
      expect(await previewer.preview(pages.url(path)), path).toBeNull();
      expect(pages.count(path), path).toBeGreaterThan(0);
    }
    // A large non-HTML body is not read.
    let imageBytes = 0;
    pages.routes.set('/big-png', async (_req, res) => {
      res.writeHead(200, { 'content-type': 'image/png' });
      const chunk = Buffer.alloc(65536);
      while (imageBytes < 32 * 1024 * 1024 && !res.destroyed) {
        imageBytes += chunk.length;
        if (!res.write(chunk)) await drainOrClose(res);
      }
      res.end();
    });
    expect(await previewer.preview(pages.url('/big-png'))).toBeNull();
    pages.html('/xhtml', page('<title>XHTML</title>'), 'application/xhtml+xml');
    expect(await previewer.preview(pages.url('/xhtml'))).toMatchObject({ title: 'XHTML' });
    expect(imageBytes).toBeLessThan(32 * 1024 * 1024);
  });

  it('asks nothing when off, or for URLs with credentials or other schemes', async () => {
    pages.html('/never', page('<title>Never</title>'));
    const off = new LinkPreviewer({ enabled: false, allowPrivate: true });
    expect(await off.preview(pages.url('/never'))).toBeNull();
    for (const url of [
      pages.url('/never').replace('http://', 'http://user:secret@'),
      pages.url('/never').replace('http://', 'http://user@'),
      pages.url('/never').replace('http:', 'ftp:'),
      `file:///etc/passwd`,
      'not a url',
    ]) {
      expect(await previewer.preview(url), url).toBeNull();
    }
    expect(pages.count('/never')).toBe(0);
    expect(await previewer.preview(pages.url('/never'))).toMatchObject({ title: 'Never' });
  });
});

describe('LinkPreviewer remembering results', () => {
  let pages: PageServer;
  beforeAll(async () => {
    pages = await PageServer.start();
    pages.html('/a', page('<title>A</title>'));
    pages.html('/b', page('<title>B</title>'));
    pages.html('/plain', 'not html', 'text/plain');
  });
  afterAll(async () => {
    await pages.close();
  });

  it('fetches a link once for concurrent and later asks, fragments aside', async () => {
    const previewer = new LinkPreviewer({ enabled: true, allowPrivate: true });
    const asks = await Promise.all(Array.from({ length: 5 }, () => previewer.preview(pages.url('/a'))));
    expect(asks.every((p) => p?.title === 'A')).toBe(true);
    expect(pages.count('/a')).toBe(1);
    expect(await previewer.preview(`${pages.url('/a')}#section`)).toMatchObject({ title: 'A' });
    expect(pages.count('/a')).toBe(1);
    // Failures too: 100 messages with a link that gives no preview fetch it once.
    for (let i = 0; i < 100; i++) expect(await previewer.preview(pages.url('/plain'))).toBeNull();
    expect(pages.count('/plain')).toBe(1);
  });

  it('forgets the least recently used result past the cache size, and results past their age', async () => {
    const lru = new LinkPreviewer({ enabled: true, allowPrivate: true, cacheSize: 1 });
    const before = pages.count('/a');
    await lru.preview(pages.url('/a'));
    await lru.preview(pages.url('/a'));
    await lru.preview(pages.url('/b'));
    await lru.preview(pages.url('/a'));
    expect(pages.count('/a') - before).toBe(2);
    const fresh = new LinkPreviewer({ enabled: true, allowPrivate: true, cacheTtlMs: 0 });
    const b = pages.count('/b');
    await fresh.preview(pages.url('/b'));
    await fresh.preview(pages.url('/b'));
    expect(pages.count('/b') - b).toBe(2);
  });

  it('answers a remembered preview from the cache without ever fetching', async () => {
    const previewer = new LinkPreviewer({ enabled: true, allowPrivate: true });
    const b = pages.count('/b');
    expect(previewer.cached(pages.url('/b'))).toBeNull();
    expect(pages.count('/b')).toBe(b);
    await previewer.preview(pages.url('/b'));
    expect(previewer.cached(`${pages.url('/b')}#top`)).toMatchObject({ title: 'B' });
    expect(previewer.cached('ftp://example.com/')).toBeNull();
    expect(pages.count('/b') - b).toBe(1);
    const stale = new LinkPreviewer({ enabled: true, allowPrivate: true, cacheTtlMs: 0 });
    await stale.preview(pages.url('/b'));
    expect(stale.cached(pages.url('/b'))).toBeNull();
    const off = new LinkPreviewer({ enabled: false });
    expect(off.cached(pages.url('/b'))).toBeNull();
  });
});

describe('LinkPreviewer keeps out of private networks (SSRF)', () => {
  let inside: PageServer;
  beforeAll(async () => {
    inside = await PageServer.start();
    inside.html('/', page('<title>Internal admin</title>'));
  });
  afterAll(async () => {
    await inside.close();
  });

  it('refuses non-public addresses and internal names before any lookup or connection', async () => {
    const lookup = resolver({});
    const previewer = new LinkPreviewer({ enabled: true, lookup });
    for (const url of [
      inside.url('/'),
      inside.url('/', 'localhost'),
      inside.url('/', 'localhost.'),
      inside.url('/', '[::1]'),
      inside.url('/', '[::ffff:127.0.0.1]'),
      inside.url('/', '0.0.0.0'),
      'http://localhost/',
      'http://[::1]/',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.1/',
      'http://192.168.1.1/',
      // Other spellings of 127.0.0.1, which URL parsing turns into it.
      `http://2130706433:${inside.port}/`,
      `http://0x7f.1:${inside.port}/`,
      `http://017700000001:${inside.port}/`,
      'http://metadata.google.internal/',
      'http://intranet/',
    ]) {
      expect(await previewer.preview(url), url).toBeNull();
    }
    expect(lookup.asked).toEqual([]);
    expect(inside.requests).toEqual([]);
  });

  it('refuses a public-looking name that resolves to a private address, at connect time', async () => {
    const lookup = resolver({
      'evil.example.com': ['127.0.0.1'],
      'mixed.example.com': ['93.184.216.34', '127.0.0.1'],
    });
    const previewer = new LinkPreviewer({ enabled: true, lookup });
    expect(await previewer.preview(inside.url('/', 'evil.example.com'))).toBeNull();
    expect(await previewer.preview(inside.url('/', 'mixed.example.com'))).toBeNull();
    expect(lookup.asked).toEqual(['evil.example.com', 'mixed.example.com']);
    expect(inside.requests).toEqual([]);
  });

  describe('a redirect from an allowed server', () => {
    let outside: PageServer;
    let privateServer: PageServer;
    beforeAll(async () => {
      outside = await PageServer.start('127.0.0.1');
      // Linux routes all of 127.0.0.0/8 to loopback: a second address, left private.
      privateServer = await PageServer.start('127.0.0.2');
      privateServer.html('/', page('<title>Secret</title>'));
      outside.html('/page', page('<title>Public page</title>'));
    });
    afterAll(async () => {
      await outside.close();
      await privateServer.close();
    });

    it('is checked again at every hop, and never reaches a private address', async () => {
      const lookup = resolver({
        'public.example.com': ['127.0.0.1'],
        'rebound.example.com': ['127.0.0.2'],
      });
      // 127.0.0.1 stands in for a public address here; 127.0.0.2 stays private.
      const previewer = new LinkPreviewer({
        enabled: true,
        lookup,
        cacheSize: 0,
        allowAddress: (ip) => ip === '127.0.0.1' || isPublicAddress(ip),
      });
      const publicUrl = (path: string) => outside.url(path, 'public.example.com');
      outside.redirect('/to-public', publicUrl('/page'));
      expect(await previewer.preview(publicUrl('/to-public'))).toEqual({
        url: publicUrl('/page'),
        title: 'Public page',
      });

      const targets = [
        privateServer.url('/'),
        privateServer.url('/', 'rebound.example.com'),
        privateServer.url('/', 'localhost'),
        privateServer.url('/', '[::ffff:127.0.0.2]'),
        'http://169.254.169.254/latest/meta-data/',
        'http://10.0.0.1/',
        'http://[::1]/',
        publicUrl('/page').replace('http://', 'http://user:pw@'),
        'file:///etc/passwd',
        'gopher://public.example.com/',
      ];
      for (const [i, target] of targets.entries()) {
        outside.redirect(`/hop/${i}`, target);
        expect(await previewer.preview(publicUrl(`/hop/${i}`)), target).toBeNull();
        expect(outside.count(`/hop/${i}`), target).toBe(1);
      }
      expect(privateServer.requests).toEqual([]);
      expect(outside.count('/page')).toBe(1);
      expect(lookup.asked.filter((h) => h === 'rebound.example.com')).toHaveLength(1);
    });
  });
});
