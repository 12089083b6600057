// The collection pipeline's public face (Node: it reads files and starts worker threads), the package
// export `wgsl-vit/pipeline` (docs/datasets.md): sources → decode pool → batches in flight → writers,
// end to end in embedDataset, and search over what it wrote.
export { openSources, expandBraces, DEFAULT_PART_SIZE, type SourceOptions, type Sources } from './sources/index.js';
export type { Part, Sample, SampleFailure, SourceItem } from './sources/types.js';
export {
  createDecodePool,
  defaultDecodeThreads,
  type DecodePool,
  type DecodePoolOptions,
  type DecodeItem,
  type DecodeOutcome,
} from './decode/pool.js';
export {
  openOutput,
  OutputError,
  type Output,
  type OutputParams,
  type PartInput,
  type PartRecord,
  type Manifest,
} from './writers/output.js';
export type { EmbeddingDtype, PartRow, FailedRow } from './writers/format.js';
export {
  embedDataset,
  embedPart,
  hashModelFiles,
  runParams,
  type EmbedDatasetOptions,
  type EmbedProgress,
  type EmbedSummary,
  type EmbeddingModel,
  type StageTimes,
} from './run.js';
export * from './search/index.js';
export {
  forwardInFlight,
  batchImages,
  inOrder,
  DEFAULT_FLIGHT_DEPTH,
  type FlightBatch,
  type FlightResult,
} from '../model/overlap.js';
