import { defineConfig } from 'vite';

const server = process.env['TILES_SERVER'] ?? 'http://127.0.0.1:8080';

export default defineConfig({
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: true,
    chunkSizeWarningLimit: 1024,
  },
  server: {
    proxy: {
      '/api': server,
      '/dzi': server,
      '/iiif': server,
    },
  },
});
