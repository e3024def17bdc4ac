import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// `npm run dev` serves the SPA with hot reload and proxies the API to a running Api
// (NXMESH_API_URL, default the `./nxmesh.sh up` address), WebSocket included.
const api = process.env.NXMESH_API_URL ?? 'http://127.0.0.1:5080';

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: process.env.NXMESH_WEB_OUT ?? 'dist',
    emptyOutDir: true,
    chunkSizeWarningLimit: 1000,
  },
  server: {
    proxy: {
      '/v1': { target: api, changeOrigin: true, ws: true },
      '/openapi': { target: api, changeOrigin: true },
    },
  },
});
