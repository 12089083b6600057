// `wgsl-vit tokenize`: the command (its help text, with the options and exit statuses, is at the end).
import { help, UsageError, parse, intOption, type Command } from './common.js';

/** A vocabulary file's text: a .gz is gunzipped (a bpe_simple_vocab_16e6.txt.gz as released). */
async function readVocab(path: string): Promise<string> {
  const { readFileSync } = await import('node:fs');
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new Error(`${path}: cannot read: ${(e as Error).message}`, { cause: e });
  }
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes.toString('utf8');
  const { gunzipSync } = await import('node:zlib');
  try {
    return gunzipSync(bytes).toString('utf8');
  } catch (e) {
    throw new Error(`${path}: cannot gunzip: ${(e as Error).message}`, { cause: e });
  }
}

async function tokenize(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'tokenize',
    argv,
    { json: { type: 'boolean' }, vocab: { type: 'string' }, context: { type: 'string' }, config: { type: 'string' } },
    true,
  );
  if (values.help) return help(tokenizeCommand);
  if (positionals.length === 0) throw new UsageError('no texts given (see wgsl-vit tokenize --help)');
  const contextLength = intOption('context', values.context);
  const vocab = values.vocab === undefined ? undefined : await readVocab(values.vocab);
  let tok;
  if (values.config !== undefined) {
    // the tokenizer of that config's checkpoint: CLIPS (hf_tokenizer_name 'bert-base-uncased') or OpenAI's BPE
    const { readConfigJson } = await import('../../src/model/config.js');
    const { tokenizerForConfig } = await import('../../src/text/choose.js');
    tok = await tokenizerForConfig(await readConfigJson(values.config), {
      source: values.config,
      vocab,
      contextLength,
    });
  } else {
    const { ClipsTokenizer } = await import('../../src/text/tokenizer.js');
    tok =
      vocab !== undefined
        ? ClipsTokenizer.fromVocab(vocab, { contextLength })
        : await ClipsTokenizer.default({ contextLength });
  }
  const rows = positionals.map((t) => Array.from(tok.encode(t)));
  console.log(values.json ? JSON.stringify(rows) : rows.map((r) => r.join(' ')).join('\n'));
  return 0;
}

export const tokenizeCommand: Command = {
  name: 'tokenize',
  help: `usage: wgsl-vit tokenize [--config open_clip_config.json] [--json] [--vocab FILE] [--context N] TEXT...
  Prints the token ids of each text: one line of ids per text, or with --json one JSON array of
  arrays.
  --config   the open_clip_config.json of a checkpoint (a path or an http(s) URL): the ids of the
             tokenizer that checkpoint uses — CLIPS for text_cfg.hf_tokenizer_name 'bert-base-uncased'
             (OpenVision 1), OpenAI's BPE without hf_tokenizer_name (OpenAI's CLIP, LAION, DataComp,
             DFN, MetaCLIP: <|startoftext|> ids <|endoftext|>, 0-padded to 77) — and its
             context_length. Without --config: CLIPS (OpenVision 1's tokenizer: ftfy-style cleaning,
             BERT WordPiece, [bos] pieces [eos] padding [CLS], 80 ids).
  --vocab    another vocabulary for that tokenizer: a vocab.txt (CLIPS), a bpe_simple_vocab_16e6.txt
             or .txt.gz (OpenAI's BPE); default the one the package ships.
  --context  ids per text (default the config's context_length: 80 for OpenVision 1, 77 for OpenAI's).
  Exit status: 0 done; 2 a usage error; 1 anything else (an unreadable file, a config whose
  tokenizer is not implemented, named).`,
  run: tokenize,
};
