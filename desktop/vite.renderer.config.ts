import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The renderer is one static bundle served both by Electron and by `lva serve`. `base: './'` keeps
 * its asset URLs relative, so the same files load from a file path or from the server's root; the
 * page's CSP forbids inline scripts, which Vite's production build does not emit.
 */
export default defineConfig({
  root: path.resolve(import.meta.dirname, 'src/renderer'),
  base: './',
  plugins: [react()],
  build: {
    outDir: path.resolve(import.meta.dirname, 'dist/renderer'),
    emptyOutDir: true,
    target: 'es2022',
  },
});
