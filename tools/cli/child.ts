// The CLI's two processes. Dawn prints two notices ("maxDynamic…BuffersPerPipelineLayout
// artificially reduced…") from native code straight to file descriptor 2 whenever an adapter is
// created (still so with webgpu 0.6.2, on lavapipe and on GPUs alike, and no Dawn toggle turns them
// off); JavaScript cannot intercept a native write, so the CLI runs itself as a child with its
// stderr on a pipe and drops exactly those lines, passing everything else through as it comes.
//
// The child is tied to its parent both ways:
// - It dies with it. The child has an IPC channel to the parent (unused but for this): when the
//   parent goes, even by SIGKILL, the channel closes, the child sees 'disconnect' and sends itself
//   SIGTERM, which ends it as `kill` would (convert removes its temporary file first). Without this
//   a killed `convert` went on and wrote its output ~25 s later.
// - When the parent's stderr is a terminal the child is told so (WGSL_VIT_STDERR_TTY, the width) and
//   draws its progress bars on a terminal-like view of its stderr pipe (`barStream`): the bars'
//   cursor movements pass through the parent's filter unchanged, so the terminal shows them, while
//   the notices are still dropped. (Plain `process.stderr` in the child is a pipe, and cli-progress
//   draws nothing on a pipe.)
// WGSL_VIT_DAWN_NOTICES=1 runs everything in one process, notices included.
import { spawn } from 'node:child_process';
import { constants } from 'node:os';

/** Set in the child's environment. */
export const CHILD_ENV = 'WGSL_VIT_CLI_CHILD';
/** Set in the child's environment when the parent's stderr is a terminal: its width in columns. */
export const TTY_ENV = 'WGSL_VIT_STDERR_TTY';

const DAWN_NOTICE =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const PREFIX = 'Warning: maxDynamic';

/** Whether this process should do the work itself (the child, or notices wanted) rather than respawn. */
export function runsInProcess(env: NodeJS.ProcessEnv = process.env): boolean {
  return !!(env[CHILD_ENV] || env.WGSL_VIT_DAWN_NOTICES);
}

/** The environment of the child: the parent's, marked, and with the terminal width when stderr is one. */
export function childEnv(env: NodeJS.ProcessEnv, stderr: { isTTY?: boolean; columns?: number }): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = { ...env, [CHILD_ENV]: '1' };
  if (stderr.isTTY) out[TTY_ENV] = String(stderr.columns || 80);
  else delete out[TTY_ENV];
  return out;
}

/**
 * A line filter: feed it the child's stderr as it comes, it returns what to print (everything but the
 * notices). A partial line is held only while it may still become a notice, so a progress bar (never
 * a notice) passes at once.
 */
export function noticeFilter(): { push(chunk: string): string; end(): string } {
  let pending = '';
  return {
    push(chunk) {
      let out = '';
      pending += chunk;
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        if (!DAWN_NOTICE.test(line)) out += `${line}\n`;
      }
      if (pending && !PREFIX.startsWith(pending.slice(0, PREFIX.length)) && !pending.startsWith(PREFIX)) {
        out += pending;
        pending = '';
      }
      return out;
    },
    end() {
      const rest = pending;
      pending = '';
      return rest;
    },
  };
}

/** The exit status for a child that ended by `signal`: 128 + its number, as a shell reports it. */
export function signalStatus(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}

/** The parent: runs this same command line as a child, filtering its stderr, and exits with its status. */
export function runFiltered(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe', 'ipc'],
    env: childEnv(process.env, process.stderr),
  });
  const filter = noticeFilter();
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => {
    const s = filter.push(chunk);
    if (s) process.stderr.write(s);
  });
  // Passed on (in a terminal the child gets a Ctrl-C itself too: its handlers expect two).
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => child.kill(sig));
  child.on('close', (code, signal) => {
    const rest = filter.end();
    if (rest) process.stderr.write(rest);
    process.exit(code ?? (signal ? signalStatus(signal) : 0));
  });
}

/** The child: ends itself (SIGTERM) when its parent is gone. Call once, first thing. */
export function watchParent(): void {
  if (!process.channel) return; // not started by runFiltered
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  // Adding the listener holds the channel open; the channel alone must not keep the child alive.
  process.channel.unref();
}

/**
 * The stream progress bars draw on: stderr, or in the child of a terminal (TTY_ENV) a view of the
 * stderr pipe that says it is a terminal of that width (see the top of this file).
 */
export function barStream(env: NodeJS.ProcessEnv = process.env): NodeJS.WritableStream {
  const cols = Number(env[TTY_ENV]);
  if (process.stderr.isTTY || !env[CHILD_ENV] || !(cols > 0)) return process.stderr;
  return new Proxy(process.stderr, {
    get(target, key, receiver) {
      if (key === 'isTTY') return true;
      if (key === 'columns') return cols;
      const v = Reflect.get(target, key, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
