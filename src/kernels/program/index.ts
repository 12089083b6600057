// The machinery every kernel wrapper shares, one concern per module: types.ts (tensors, dispatches,
// kernel sources), reflect.ts (bindings and constants read from the WGSL), pipelines.ts (pipeline
// cache per device and specialisation), checks.ts (argument checks), dispatch.ts (createDispatch),
// texture-matrix.ts (matrices in MATRIX_TEXTURE_FORMAT textures), weight-format.ts (f16 / q8 weights),
// precision.ts (f32 or f16 products), device-traits.ts (CPU adapter,
// 8-lane subgroups), harness.ts (running one kernel alone: upload, read back, time).
// This module re-exports them all.
export * from './types.js';
export * from './reflect.js';
export * from './pipelines.js';
export * from './checks.js';
export * from './dispatch.js';
export * from './texture-matrix.js';
export * from './weight-format.js';
export * from './precision.js';
export * from './device-traits.js';
export { elementCount } from '../../shape.js';
