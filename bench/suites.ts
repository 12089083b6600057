// Benchmark rows: which model, at which resolution and batch. `default` finishes in a few minutes
// on a CPU adapter (lavapipe) and covers patch 8, 14 and 16; `full` is the family on a real GPU.

export interface BenchRow {
  /** A preset of src/model/config.ts (ti-16, b-16, l-14, so400m-14, h-14, openai-b-16, dfn-h-14, …) or `fixture:<case>`. */
  model: string;
  resolution?: number;
  batch: number;
  /** Run only the first `layers` blocks (said in the row's label): keeps CPU-adapter rows short. */
  layers?: number;
}

export const SUITES: Record<string, BenchRow[]> = {
  default: [
    { model: 'ti-16', resolution: 224, batch: 1 },
    { model: 'ti-16', resolution: 224, batch: 4 },
    { model: 'ti-8', resolution: 112, batch: 1 },
    { model: 'ti-8', resolution: 224, batch: 1, layers: 4 },
    { model: 'so400m-14', resolution: 224, batch: 1, layers: 1 },
    { model: 'h-14', resolution: 112, batch: 1, layers: 1 },
    { model: 'fixture:ov1-ti16-224-d1', batch: 2 },
    { model: 'fixture:ov1-ti8-160-d1', batch: 2 },
    { model: 'fixture:ov1-so14-84-d2', batch: 3 },
    { model: 'fixture:ov2-h14-224-d1', batch: 1 },
  ],
  full: [
    { model: 'ti-16', batch: 32 },
    { model: 's-16', batch: 32 },
    { model: 'b-16', batch: 1 },
    { model: 'b-16', batch: 32 },
    { model: 'b-8', batch: 1 },
    { model: 'b-8', batch: 32 },
    { model: 'l-14', batch: 1 },
    { model: 'l-14', batch: 32 },
    { model: 'so400m-14', batch: 1 },
    { model: 'so400m-14', batch: 32 },
    { model: 'h-14', batch: 1 },
    { model: 'h-14', batch: 32 },
    // The CLIP baselines in OpenAI's layout (QuickGELU, ln_pre, class token), at OpenVision's sizes
    { model: 'openai-b-32', batch: 1 },
    { model: 'openai-b-32', batch: 32 },
    { model: 'openai-b-16', batch: 1 },
    { model: 'openai-b-16', batch: 32 },
    { model: 'openai-l-14', batch: 1 },
    { model: 'openai-l-14', batch: 32 },
    { model: 'openai-l-14-336', batch: 1 },
    { model: 'openai-l-14-336', batch: 32 },
    { model: 'dfn-h-14', batch: 1 },
    { model: 'dfn-h-14', batch: 32 },
    { model: 'fixture:ov1-ti16-224-d1', batch: 2 },
    { model: 'fixture:ov1-ti8-160-d1', batch: 2 },
    { model: 'fixture:ov1-so14-84-d2', batch: 3 },
    { model: 'fixture:ov2-h14-224-d1', batch: 1 },
    { model: 'fixture:oai-b16-64-d2', batch: 2 },
    { model: 'fixture:oai-l14-98-d1', batch: 3 },
  ],
};
