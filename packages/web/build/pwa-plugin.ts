/**
 * Vite plugin that makes the build an installable PWA with nothing committed but source:
 * it draws the icons, writes the web app manifest, links both from index.html, and gives
 * the service worker (built apart, see buildServiceWorker) the list of files to precache (the
 * app shell), so every build gets a new shell cache and the old one is dropped.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';
import type { Plugin } from 'vite';
import { iconPng, iconSvg } from './icons.js';

const SW_ENTRY = fileURLToPath(new URL('../src/sw.ts', import.meta.url));

/**
 * The service worker as one classic script. It is built apart from the app: as a second
 * entry of the app's build it would import the modules it shares with the app from a chunk,
 * which a classic service worker cannot.
 */
async function buildServiceWorker(): Promise<string> {
  const result = await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      target: 'es2022',
      rollupOptions: { input: SW_ENTRY, output: { format: 'iife' } },
    },
  });
  for (const out of Array.isArray(result) ? result : [result]) {
    if (!('output' in out)) continue;
    const entry = out.output.find((c) => c.type === 'chunk' && c.isEntry);
    if (entry !== undefined && entry.type === 'chunk' && out.output.length === 1) return entry.code;
  }
  throw new Error('parley-pwa: sw.js did not build as one script');
}

/** Placeholder in src/sw.ts replaced by the precache manifest (a JSON string literal). */
const PLACEHOLDER = /(["'`])__PARLEY_PRECACHE__\1/;

const THEME_LIGHT = '#008069';
const THEME_DARK = '#202c33';

export function pwaPlugin(): Plugin {
  return {
    name: 'parley-pwa',
    apply: 'build',
    transformIndexHtml() {
      return [
        { tag: 'link', attrs: { rel: 'manifest', href: '/manifest.webmanifest' }, injectTo: 'head' },
        {
          tag: 'link',
          attrs: { rel: 'icon', href: '/icons/icon.svg', type: 'image/svg+xml' },
          injectTo: 'head',
        },
        {
          tag: 'link',
          attrs: { rel: 'apple-touch-icon', href: '/icons/apple-touch-icon.png' },
          injectTo: 'head',
        },
        {
          tag: 'meta',
          attrs: { name: 'theme-color', content: THEME_LIGHT, media: '(prefers-color-scheme: light)' },
          injectTo: 'head',
        },
        {
          tag: 'meta',
          attrs: { name: 'theme-color', content: THEME_DARK, media: '(prefers-color-scheme: dark)' },
          injectTo: 'head',
        },
      ];
    },
    async generateBundle(_options, bundle) {
      const assets: Array<[string, string | Buffer]> = [
        ['icons/icon.svg', iconSvg()],
        ['icons/icon-192.png', iconPng(192, 'any')],
        ['icons/icon-512.png', iconPng(512, 'any')],
        ['icons/maskable-512.png', iconPng(512, 'maskable')],
        ['icons/apple-touch-icon.png', iconPng(180, 'maskable')],
      ];
      const manifest = {
        name: 'Parley',
        short_name: 'Parley',
        description: 'Chat on your own Parley server',
        id: '/',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#111b21',
        theme_color: THEME_LIGHT,
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png', purpose: 'any' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png', purpose: 'any' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
          { src: '/icons/icon.svg', sizes: 'any', type: 'image/svg+xml' },
        ],
      };
      assets.push(['manifest.webmanifest', `${JSON.stringify(manifest, null, 2)}\n`]);
      for (const [fileName, source] of assets) this.emitFile({ type: 'asset', fileName, source });

      const sw = await buildServiceWorker();
      // Assets emitted above may not be in `bundle` yet: list them explicitly.
      const names = new Set([...Object.keys(bundle), ...assets.map(([f]) => f)]);
      names.delete('index.html');
      const files = ['/', ...[...names].filter((f) => !f.endsWith('.map')).map((f) => `/${f}`)].sort();
      const hash = createHash('sha256');
      for (const f of Object.keys(bundle).sort()) {
        const out = bundle[f];
        if (out === undefined) continue;
        hash.update(f).update(out.type === 'chunk' ? out.code : out.source);
      }
      for (const [f, source] of assets) hash.update(f).update(source);
      const precache = { version: hash.digest('hex').slice(0, 12), files };
      if (!PLACEHOLDER.test(sw)) throw new Error('parley-pwa: precache placeholder not found in sw.js');
      const source = sw.replace(PLACEHOLDER, () => JSON.stringify(JSON.stringify(precache)));
      this.emitFile({ type: 'asset', fileName: 'sw.js', source });
    },
  };
}
