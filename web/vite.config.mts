import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));

/** Paths the gateway answers itself; the dev server forwards them to a local gateway. */
const GATEWAY = process.env.COURSEREG_GATEWAY ?? 'http://127.0.0.1:8080';
const apiPrefixes = ['/coursereg.course.v1.CourseService', '/coursereg.student.v1.StudentService', '/coursereg.registration.v1.RegistrationService', '/dev'];

export default defineConfig({
  root: here,
  base: '/',
  // Keep Vite's and Vitest's caches with the repository's node_modules, not in web/.
  cacheDir: '../node_modules/.vite/web',
  // Vite 8 compiles TS/TSX with Oxc; React 17+ automatic runtime, no plugin needed.
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    sourcemap: true,
    target: 'es2022',
  },
  server: {
    host: '127.0.0.1',
    port: 5173,
    proxy: Object.fromEntries(apiPrefixes.map((p) => [p, { target: GATEWAY, changeOrigin: false, ws: false }])),
  },
  preview: {
    host: '127.0.0.1',
    proxy: Object.fromEntries(apiPrefixes.map((p) => [p, { target: GATEWAY, changeOrigin: false }])),
  },
});
