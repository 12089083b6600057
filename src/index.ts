// wgsl-vit: OpenVision ViT encoders on WebGPU. Public API.
//   const { device } = await requestDevice();
//   const model = await VisionTransformer.load(device, { weights, config });
//   const { tokens, pooled, embedding } = await model.forward(pixels, batch);
export {
  requestDevice,
  WANTED_FEATURES,
  type DeviceInfo,
  type DeviceOptions,
  type Runtime,
  type WebGPUChoice,
} from './device.js';
export {
  VisionTransformer,
  buildViTGraph,
  VIT_OUTPUTS,
  type ForwardOptions,
  type LoadOptions,
  type ViTOutputName,
  type ViTOutputs,
} from './model/vit.js';
export {
  CLIPModel,
  normalizeRows,
  softmaxRows,
  type ClipLoadOptions,
  type EncodeTextsOptions,
  type LabelScore,
  type ZeroShotOptions,
} from './model/clip.js';
export {
  TextTransformer,
  buildTextGraph,
  TEXT_OUTPUTS,
  type TextOutputName,
  type TextOutputs,
  type TextForwardOptions,
  type TextLoadOptions,
} from './model/text.js';
export { ClipsTokenizer, cleanText, CLIPS_IDS, TokenizerError, type TokenizerOptions } from './text/tokenizer.js';
export { BpeTokenizer, OPENAI_BPE_IDS } from './text/bpe.js';
export {
  tokenizerChoice,
  tokenizerForConfig,
  type TextTokenizer,
  type TokenizerKind,
  type TokenizerChoice,
  type ConfigTokenizerOptions,
} from './text/choose.js';
export {
  configFromOpenClip,
  readConfigJson,
  textConfigFromOpenClip,
  architecture,
  type TextConfig,
  presetConfig,
  PRESETS,
  BASELINE_PRESETS,
  presetFamily,
  flopsPerImage,
  validateConfig,
  headDim,
  type ViTConfig,
} from './model/config.js';
export { randomCheckpoint } from './model/random.js';
export { tuneKernels, type TuneOptions } from './model/tune.js';
export {
  defaultProfileStore,
  fileProfileStore,
  adapterKey,
  shapeKey,
  type ProfileStore,
  type TuneProfile,
  type TuneTiming,
  type StoredChoices,
} from './model/profiles.js';
export {
  compare,
  readExpected,
  TOLERANCE,
  DTYPE_MIN_COSINE,
  measureAccuracy,
  rowAgreement,
  sameRanking,
  type Comparison,
  type ExpectedFile,
  type DTypeAccuracy,
} from './model/verify.js';
export { MODEL_DTYPES, type ModelDType } from './model/dtype.js';
export { convertCheckpoint, convertToBytes, type ConvertResult } from './model/convert.js';
export {
  openCheckpoint,
  openSafetensors,
  openTorchZip,
  openSource,
  type Checkpoint,
  blobSource,
  type WeightsInput,
  type ByteSource,
  type SourceOptions,
  type LoadProgress,
} from './weights/index.js';
export { memoryCheckpoint } from './weights/checkpoint.js';
export { Graph, Tensor, type KernelChoices, type TensorStorage } from './graph/graph.js';
export { CompiledGraph, type RunOptions, type RunResult, type NodeTiming } from './graph/executor.js';
export { planBuffers, type BufferPlan } from './graph/planner.js';
export {
  KernelArgumentError,
  CheckpointError,
  ConfigError,
  DeviceError,
  ImageError,
  ArgumentError,
  ModelDestroyedError,
  WebGPUError,
} from './errors.js';
export { encodeImages, type EncodeOptions, type EncodeResult } from './model/encode.js';
export {
  forwardInFlight,
  batchImages,
  DEFAULT_FLIGHT_DEPTH,
  type FlightBatch,
  type FlightResult,
} from './model/overlap.js';
export {
  preprocessImages,
  decodeImage,
  decodeResized,
  normalizeBatch,
  resizeBilinear,
  DEFAULT_MAX_PIXELS,
  type ImageInput,
  type RgbImage,
  type PreprocessOptions,
  type DecodeOptions,
} from './preprocess/index.js';
