// Which tokenizer a checkpoint's open_clip config asks for, as open_clip's get_tokenizer decides:
// `text_cfg.hf_tokenizer_name` given → a Hugging Face tokenizer (for OpenVision 1:
// 'bert-base-uncased', the CLIPS tokenizer); absent → OpenAI's BPE (SimpleTokenizer), what OpenAI's
// CLIP and the open_clip models trained like it (LAION, DataComp, DFN, MetaCLIP) use. No Node APIs:
// the config is the parsed JSON.
import { ConfigError } from '../errors.js';
import { BpeTokenizer } from './bpe.js';
import { ClipsTokenizer, TokenizerError } from './tokenizer.js';

/** 'clips': OpenVision 1's WordPiece (ClipsTokenizer); 'openai-bpe': OpenAI's byte-level BPE (BpeTokenizer). */
export type TokenizerKind = 'clips' | 'openai-bpe';

/** What the models need of a tokenizer (ClipsTokenizer and BpeTokenizer both are one). */
export interface TextTokenizer {
  readonly kind: TokenizerKind;
  /** Ids per text. */
  readonly contextLength: number;
  readonly vocabSize: number;
  /** The `contextLength` ids of one text. */
  encode(text: string): Int32Array;
  /** [texts.length, contextLength] ids, row-major. */
  encodeBatch(texts: readonly string[]): Int32Array;
  /** Whether encode cuts the text to fit the context. */
  truncates(text: string): boolean;
}

/** The Hugging Face tokenizer name of OpenVision 1's configs, which open_clip's OpenVision fork builds as CLIPS. */
const CLIPS_HF_NAME = 'bert-base-uncased';

/** What a config's tokenizer is: its kind and ids per text (text_cfg.context_length, open_clip's default 77). */
export interface TokenizerChoice {
  kind: TokenizerKind;
  contextLength: number;
}

/**
 * The tokenizer the checkpoint of an open_clip config uses (the parsed open_clip_config.json;
 * `source` names it in errors). A config without `model_cfg.text_cfg` has no text tower, so no
 * tokenizer: a ConfigError. Refused by name: another `hf_tokenizer_name` (those tokenizers are not
 * implemented), and `tokenizer_kwargs` other than the ones each tokenizer's default takes.
 */
export function tokenizerChoice(json: unknown, source = 'open_clip_config.json'): TokenizerChoice {
  const root = json as { model_cfg?: { text_cfg?: unknown } } | null;
  if (typeof root !== 'object' || root === null || Array.isArray(root))
    throw new ConfigError(source, 'must be a JSON object (an open_clip_config.json)');
  const t = root.model_cfg?.text_cfg;
  if (t === undefined || t === null)
    throw new ConfigError(
      source,
      'has no model_cfg.text_cfg: a vision-only model (OpenVision 2, or a vision tower saved alone) has no text tower, so no tokenizer',
    );
  if (typeof t !== 'object' || Array.isArray(t)) throw new ConfigError(source, 'model_cfg.text_cfg must be an object');
  const cfg = t as Record<string, unknown>;
  const ctx = cfg.context_length ?? 77;
  if (typeof ctx !== 'number' || !Number.isInteger(ctx) || ctx < 2)
    throw new ConfigError(
      source,
      `model_cfg.text_cfg.context_length must be an integer ≥ 2, got ${JSON.stringify(cfg.context_length)}`,
    );
  const hf = cfg.hf_tokenizer_name;
  let kind: TokenizerKind;
  if (hf === undefined || hf === null || hf === '') kind = 'openai-bpe';
  else if (hf === CLIPS_HF_NAME) kind = 'clips';
  else
    throw new ConfigError(
      source,
      `model_cfg.text_cfg.hf_tokenizer_name = ${JSON.stringify(hf)}: only ${JSON.stringify(CLIPS_HF_NAME)} (OpenVision 1's CLIPS tokenizer) is implemented, and OpenAI's BPE when the key is absent`,
    );
  const kwargs = cfg.tokenizer_kwargs ?? {};
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs))
    throw new ConfigError(source, 'model_cfg.text_cfg.tokenizer_kwargs must be an object');
  // The only keyword each tokenizer here takes, with the value it implements.
  const accepted: Record<string, unknown> = kind === 'clips' ? { strip_sep_token: true } : { clean: 'lower' };
  for (const [k, v] of Object.entries(kwargs as Record<string, unknown>)) {
    if (!(k in accepted) || accepted[k] !== v)
      throw new ConfigError(
        source,
        `model_cfg.text_cfg.tokenizer_kwargs.${k} = ${JSON.stringify(v)}: not implemented (the ${kind === 'clips' ? 'CLIPS' : 'OpenAI BPE'} tokenizer here takes only ${Object.entries(
          accepted,
        )
          .map(([a, b]) => `${a}: ${JSON.stringify(b)}`)
          .join(', ')})`,
      );
  }
  return { kind, contextLength: ctx };
}

export interface ConfigTokenizerOptions {
  /** Names the config in errors (default 'open_clip_config.json'). */
  source?: string;
  /**
   * A tokenizer to use (its kind must be the config's), or the text of that kind's vocabulary file: a
   * vocab.txt for CLIPS, a decompressed bpe_simple_vocab_16e6.txt for OpenAI's BPE. Default: the
   * vocabulary the package ships for that kind.
   */
  vocab?: TextTokenizer | string;
  /** Ids per text (default the config's text_cfg.context_length, else 77). */
  contextLength?: number;
}

/** The tokenizer of an open_clip config's checkpoint (tokenizerChoice), with the shipped vocabulary or `vocab`. */
export async function tokenizerForConfig(json: unknown, opts: ConfigTokenizerOptions = {}): Promise<TextTokenizer> {
  const source = opts.source ?? 'open_clip_config.json';
  const choice = tokenizerChoice(json, source);
  const contextLength = opts.contextLength ?? choice.contextLength;
  const { vocab } = opts;
  if (
    vocab !== undefined &&
    typeof vocab !== 'string' &&
    (typeof vocab !== 'object' || vocab === null || typeof (vocab as Partial<TextTokenizer>).encodeBatch !== 'function')
  )
    throw new TokenizerError(
      `vocab must be a tokenizer (ClipsTokenizer, BpeTokenizer) or the text of a vocabulary file, got ${vocab === null ? 'null' : typeof vocab}`,
    );
  if (vocab !== undefined && typeof vocab !== 'string') {
    if (vocab.kind !== choice.kind)
      throw new ConfigError(
        source,
        `its checkpoint uses the ${choice.kind} tokenizer (${choice.kind === 'clips' ? `hf_tokenizer_name ${JSON.stringify(CLIPS_HF_NAME)}` : 'no hf_tokenizer_name'}), but the tokenizer given (vocab) is ${vocab.kind}`,
      );
    return vocab;
  }
  if (choice.kind === 'clips')
    return typeof vocab === 'string'
      ? ClipsTokenizer.fromVocab(vocab, { contextLength })
      : ClipsTokenizer.default({ contextLength });
  return typeof vocab === 'string'
    ? BpeTokenizer.fromMerges(vocab, { contextLength })
    : BpeTokenizer.default({ contextLength });
}
