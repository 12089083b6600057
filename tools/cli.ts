#!/usr/bin/env node
// wgsl-vit command line: verify, embed, export-onnx, info. Each command answers --help on stdout
// (exit 0); a usage error (unknown option, bad number, bad --out) exits 2 with a message naming the
// option; a failure while working exits 1.
import { spawn } from 'node:child_process';
import { classifyCommand } from './cli/classify.js';
import { convertCommand } from './cli/convert.js';
import { UsageError, type Command } from './cli/common.js';
import { embedCommand } from './cli/embed.js';
import { exportOnnxCommand } from './cli/export-onnx.js';
import { infoCommand } from './cli/info.js';
import { tokenizeCommand } from './cli/tokenize.js';
import { tuneCommand } from './cli/tune.js';
import { verifyCommand } from './cli/verify.js';

const USAGE = `usage: wgsl-vit <command> [options]   (wgsl-vit <command> --help for each)
  verify       compare a checkpoint's outputs with a PyTorch expected file
  embed        images (or --text) in, embeddings out
  classify     zero-shot labels for images (OpenVision 1 CLIP checkpoints)
  tokenize     CLIPS token ids of texts
  export-onnx  write the encoder as an ONNX model
  tune         measure the fastest kernel choices for a model on this adapter and store them
  info         the WebGPU adapter, features and limits`;

/** Every command, one module each under tools/cli/, in the order `wgsl-vit --help` lists them. */
const COMMANDS: readonly Command[] = [
  verifyCommand,
  embedCommand,
  exportOnnxCommand,
  convertCommand,
  tokenizeCommand,
  classifyCommand,
  tuneCommand,
  infoCommand,
];
const commands = new Map(COMMANDS.map((c) => [c.name, c]));

function main(): void {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === '--help' || cmd === '-h' || cmd === 'help') {
    console.log(`${USAGE}\n\n${COMMANDS.map((c) => c.help).join('\n\n')}`);
    process.exit(0);
  }
  const run = cmd ? commands.get(cmd) : undefined;
  if (!run) {
    console.error(cmd ? `wgsl-vit: unknown command '${cmd}'\n${USAGE}` : USAGE);
    process.exit(2);
  }
  run.run(rest).then(
    (code) => process.exit(code),
    (e: Error) => {
      console.error(`wgsl-vit ${cmd}: ${e.message}`);
      process.exit(e instanceof UsageError ? 2 : 1);
    },
  );
}

/**
 * Dawn prints two notices ("maxDynamic…BuffersPerPipelineLayout artificially reduced…") from native
 * code straight to stderr whenever an adapter is created; JavaScript cannot intercept them. The CLI
 * therefore runs itself as a child and drops exactly those lines from its stderr, passing everything
 * else (progress bar included) through as it comes.
 */
const DAWN_NOTICE =
  /^Warning: maxDynamic(Uniform|Storage)BuffersPerPipelineLayout artificially reduced from \d+ to \d+ to fit dynamic offset allocation limit\.\r?$/;
const PREFIX = 'Warning: maxDynamic';

function runFiltered(): void {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, WGSL_VIT_CLI_CHILD: '1' },
  });
  let pending = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    pending += chunk;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (!DAWN_NOTICE.test(line)) process.stderr.write(`${line}\n`);
    }
    // A partial line is held only while it may still become a notice (the progress bar never does).
    if (pending && !PREFIX.startsWith(pending.slice(0, PREFIX.length)) && !pending.startsWith(PREFIX)) {
      process.stderr.write(pending);
      pending = '';
    }
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill(sig));
  child.on('close', (code, signal) => {
    if (pending) process.stderr.write(pending);
    process.exit(code ?? (signal ? 1 : 0));
  });
}

if (process.env.WGSL_VIT_CLI_CHILD || process.env.WGSL_VIT_DAWN_NOTICES) main();
else runFiltered();
