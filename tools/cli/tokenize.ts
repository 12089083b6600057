// `wgsl-vit tokenize`: the command (its help text, with the options and exit statuses, is at the end).
import { help, UsageError, parse, intOption, type Command } from './common.js';

async function tokenize(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    'tokenize',
    argv,
    { json: { type: 'boolean' }, vocab: { type: 'string' }, context: { type: 'string' } },
    true,
  );
  if (values.help) return help(tokenizeCommand);
  if (positionals.length === 0) throw new UsageError('no texts given (see wgsl-vit tokenize --help)');
  const contextLength = intOption('context', values.context);
  const { ClipsTokenizer } = await import('../../src/text/tokenizer.js');
  let tok;
  if (values.vocab) {
    const { readFileSync } = await import('node:fs');
    let text: string;
    try {
      text = readFileSync(values.vocab, 'utf8');
    } catch (e) {
      throw new Error(`${values.vocab}: cannot read: ${(e as Error).message}`, { cause: e });
    }
    tok = ClipsTokenizer.fromVocab(text, { contextLength });
  } else tok = await ClipsTokenizer.default({ contextLength });
  const rows = positionals.map((t) => Array.from(tok.encode(t)));
  console.log(values.json ? JSON.stringify(rows) : rows.map((r) => r.join(' ')).join('\n'));
  return 0;
}

export const tokenizeCommand: Command = {
  name: 'tokenize',
  help: `usage: wgsl-vit tokenize [--json] [--vocab vocab.txt] [--context 80] TEXT...
  Prints the CLIPS token ids of each text (OpenVision 1's tokenizer: ftfy-style cleaning, BERT
  WordPiece, [bos] pieces [eos] padding [CLS]): one line of ids per text, or with --json one JSON
  array of arrays. --vocab: another vocab.txt (default: the released OpenVision 1 vocabulary).`,
  run: tokenize,
};
