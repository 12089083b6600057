#!/usr/bin/env node
// wgsl-vit command line: verify, embed, embed-dataset, worker, search, classify, convert, tokenize, export-onnx, tune, info. Each command answers --help on stdout
// (exit 0); a usage error (unknown option, bad number, bad --out) exits 2 with a message naming the
// option; a failure while working exits 1. Every command prints its data (embeddings, labels, ids, the
// verify table, JSON) on stdout and everything for the person watching (summaries, progress bars,
// warnings, errors) on stderr.
import { readFileSync } from 'node:fs';
import { runFiltered, runsInProcess, watchParent } from './cli/child.js';
import { classifyCommand } from './cli/classify.js';
import { convertCommand } from './cli/convert.js';
import { UsageError, type Command } from './cli/common.js';
import { embedCommand } from './cli/embed.js';
import { embedDatasetCommand } from './cli/embed-dataset.js';
import { exportOnnxCommand } from './cli/export-onnx.js';
import { infoCommand } from './cli/info.js';
import { searchCommand } from './cli/search.js';
import { tokenizeCommand } from './cli/tokenize.js';
import { tuneCommand } from './cli/tune.js';
import { verifyCommand } from './cli/verify.js';
import { workerCommand } from './cli/worker.js';

const USAGE = `usage: wgsl-vit <command> [options]   (wgsl-vit <command> --help for each)
  verify       compare a checkpoint's outputs with a PyTorch expected file
  embed        images (or --text) in, embeddings out
  embed-dataset  a whole collection (folders, lists, webdataset shards) into clip-retrieval's layout, resumable
  worker       embeds the parts of an embed-dataset --queue run (BullMQ on Redis)
  classify     zero-shot labels for images (OpenVision 1 CLIP checkpoints)
  search       rank a collection run's embeddings against a text or an image query
  convert      write a checkpoint with fp16 or q8 matrices (a smaller safetensors file)
  tokenize     CLIPS token ids of texts
  export-onnx  write the encoder as an ONNX model
  tune         measure the fastest kernel choices for a model on this adapter and store them
  info         the WebGPU adapter, features and limits
  wgsl-vit --version (-V) prints the version`;

/** The package's version, from its package.json (two folders above dist/tools/cli.js). */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

/** Every command, one module each under tools/cli/, in the order `wgsl-vit --help` lists them. */
const COMMANDS: readonly Command[] = [
  verifyCommand,
  embedCommand,
  embedDatasetCommand,
  workerCommand,
  classifyCommand,
  searchCommand,
  convertCommand,
  tokenizeCommand,
  exportOnnxCommand,
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
  if (cmd === '--version' || cmd === '-V') {
    console.log(version());
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

// The command runs in a child that dies with this process; why, and how, in cli/child.ts.
if (runsInProcess()) {
  watchParent();
  main();
} else runFiltered();
