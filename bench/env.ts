// What both benchmarks record about where they ran, and how their result files are named.
import { execSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file runs from dist/bench/). */
export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Short commit of the checkout, '+dirty' when tracked files differ from it; 'unknown' outside git. */
export function gitCommit(): string {
  try {
    const head = execSync('git rev-parse --short HEAD', { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
    const dirty = execSync('git status --porcelain --untracked-files=no', {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
      .toString()
      .trim();
    return head + (dirty ? '+dirty' : '');
  } catch {
    return 'unknown';
  }
}

/** The adapter's vendor as a file-name part ('mesa', 'nvidia'; 'adapter' when it reports none). */
export function vendorTag(vendor: string): string {
  return (vendor || 'adapter').replace(/\W+/g, '_');
}

/** `<ISO date with : and . as ->-<vendor tag>`: the stem of a result file. */
export function resultStem(isoDate: string, vendor: string): string {
  return `${isoDate.replace(/[:.]/g, '-')}-${vendorTag(vendor)}`;
}
