import { defineConfig } from 'vite';
import { pwaPlugin } from './build/pwa-plugin.js';

// The server serves dist/ at `/` (packages/server/src/http/web.ts); the service worker must
// sit at the root to control the whole app, so it is built as its own entry named sw.js.
export default defineConfig({
  plugins: [pwaPlugin()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { index: 'index.html', sw: 'src/sw.ts' },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'sw' ? 'sw.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
  server: {
    proxy: { '/v1': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
