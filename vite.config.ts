import { defineConfig } from 'vite';

const server = process.env['TILES_SERVER'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
    rollupOptions: {
      // the app and the audit browser, plus <wsi-viewer> on its own at a stable URL for portals to embed
      input: { main: 'index.html', audit: 'audit.html', report: 'report.html', inbox: 'inbox.html', 'wsi-viewer': 'src/viewer/wsi-viewer.ts' },
      output: {
        entryFileNames: (chunk) => (chunk.name === 'wsi-viewer' ? 'wsi-viewer.js' : 'assets/[name]-[hash].js'),
      },
    },
  },
  server: {
    proxy: {
      '/api': server,
      '/dzi': server,
      '/iiif': server,
    },
  },
});
