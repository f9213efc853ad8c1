import { fileURLToPath } from 'node:url'
import react from '@vitejs/plugin-react'
import { defineConfig } from 'vite'

// Built into dist/web, which groupd serves (src/web-app/routes.ts); hashed assets under /assets/.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    assetsDir: 'assets',
    reportCompressedSize: true,
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8000' } },
})
