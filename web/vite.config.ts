// Vite builds web/ into web/dist, which the daemon embeds (crates/clauderon-daemon/build.rs).
/// <reference types="vitest/config" />
// JSX goes through esbuild: no Babel, no plugin.
import { defineConfig } from 'vite';

export default defineConfig({
  esbuild: { jsx: 'automatic' },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // The polyfill would be the only code outside our own files; every browser we aim at has
    // modulepreload.
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
});
