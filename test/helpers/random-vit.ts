// Seeded random OpenVision-layout weights (see src/model/random.ts), and a tiny config to run them with.
import type { ViTConfig } from '../../src/model/config.js';
export { randomTensors as randomWeights } from '../../src/model/random.js';

/** A small model (2 heads × 32, 8×8 patches on 32 px: 17 tokens, 2 blocks): a whole load and run in well under a second. */
export const TINY_VIT: ViTConfig = {
  imageSize: 32,
  patchSize: 8,
  width: 64,
  layers: 2,
  heads: 2,
  mlpWidth: 256,
  embedDim: 32,
  eps: 1e-6,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
};
