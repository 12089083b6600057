// Bundles the demo page (web/main.ts + the library) for browsers into dist/web/ with esbuild.
// Node-only modules are left out: the library reaches them only when running under Node.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
mkdirSync(join(root, 'dist', 'web'), { recursive: true });
await build({
  entryPoints: [join(root, 'web', 'main.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  outfile: join(root, 'dist', 'web', 'app.js'),
  external: ['node:*', 'webgpu', 'pngjs'],
  sourcemap: true,
  logLevel: 'warning',
});
copyFileSync(join(root, 'web', 'index.html'), join(root, 'dist', 'web', 'index.html'));
console.log('built dist/web/ (index.html, app.js)');
