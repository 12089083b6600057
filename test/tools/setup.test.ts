// `npm run setup` (tools/setup-system.sh) on a machine where an adapter already works but there is
// no apt-get and no Chromium: it still succeeds (Chromium serves the page test alone, which then
// skips naming why), so `npm run setup && npm run bench` goes on; Redis likewise, except under CI=true
// (the BullMQ tests must run there), where its absence fails setup, naming it.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');

/** A PATH of just the commands the script uses, apt-get and chromium not among them. */
function barePath(): string {
  const dir = mkdtempSync(join(tmpdir(), 'wgsl-vit-bin-'));
  for (const c of ['bash', 'uname', 'dirname', 'id', 'grep', 'tee', 'cat', 'sh']) {
    const p = spawnSync('bash', ['-c', `command -v ${c}`], { encoding: 'utf8' }).stdout.trim();
    if (p) symlinkSync(p, join(dir, c));
  }
  symlinkSync(process.execPath, join(dir, 'node'));
  return dir;
}

// Hiding /usr/bin/chromium takes a private mount namespace (unshare -m, root): where that is not
// allowed the test says so and is skipped.
const canUnshare = spawnSync('unshare', ['-m', 'true']).status === 0;

describe('npm run setup', () => {
  it.skipIf(!canUnshare)(
    'succeeds with a working adapter, no apt-get and no Chromium, and says the page test will be skipped',
    () => {
      const bin = barePath();
      try {
        const hide = existsSync('/usr/bin/chromium') ? 'mount --bind /dev/null /usr/bin/chromium && ' : '';
        const r = spawnSync(
          'unshare',
          ['-m', 'bash', '-c', `${hide}PATH=${bin} bash ${join(root, 'tools', 'setup-system.sh')}`],
          {
            encoding: 'utf8',
            // A developer's machine (CI unset): a Redis that cannot be installed is a warning there.
            env: { ...process.env, CI: '', CHROMIUM_PATH: '', XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
            timeout: 120_000,
          },
        );
        expect(r.status, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toMatch(/setup: WebGPU adapter: /);
        expect(r.stderr).toMatch(/no apt-get: install chromium yourself/);
        expect(r.stderr).toMatch(/Chromium is not installed .*the demo page's test will be skipped/);
        expect(r.stderr).toMatch(/no apt-get: install redis-server yourself/);
        // Under CI the BullMQ tests must run, so a Redis that cannot be installed fails setup, naming it.
        const ci = spawnSync(
          'unshare',
          ['-m', 'bash', '-c', `${hide}PATH=${bin} bash ${join(root, 'tools', 'setup-system.sh')}`],
          {
            encoding: 'utf8',
            env: {
              ...process.env,
              CI: 'true',
              CHROMIUM_PATH: '',
              XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
            },
            timeout: 120_000,
          },
        );
        expect(ci.status).not.toBe(0);
        expect(ci.stderr).toMatch(/redis-server is not installed/);
      } finally {
        rmSync(bin, { recursive: true });
      }
    },
  );
});
