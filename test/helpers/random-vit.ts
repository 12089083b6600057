// Seeded random OpenVision-layout weights (see src/model/random.ts).
export { randomTensors as randomWeights } from '../../src/model/random.js';
