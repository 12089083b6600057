// `wgsl-vit/tokenizer`: the text tokenizers, without Node APIs (they run in browsers too).
export * from './tokenizer.js';
export * from './bpe.js';
export * from './choose.js';
