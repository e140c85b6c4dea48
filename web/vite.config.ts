// Builds the web app from web/ into web/dist, which the server serves at `/` (`vite build web`).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
  },
  server: {
    // `npx vite web` during development: the API and WebSocket come from a running `npm start`.
    proxy: {
      '/api': 'http://127.0.0.1:8080',
      '/ws': { target: 'ws://127.0.0.1:8080', ws: true },
    },
    fs: { allow: ['..'] },
  },
});
