import { defineConfig } from 'vite';
import { pwaPlugin } from './build/pwa-plugin.js';

// The server serves dist/ at `/` (packages/server/src/http/web.ts); the service worker is
// built apart, as one classic script at the root, by build/pwa-plugin.ts.
export default defineConfig({
  plugins: [pwaPlugin()],
  build: {
    target: 'es2022',
    outDir: 'dist',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    rollupOptions: { input: { index: 'index.html' } },
  },
  server: {
    proxy: { '/v1': { target: 'http://127.0.0.1:8080', ws: true } },
  },
});
