// The package's types for TypeScript 5 (package.json "exports": "types@<6"): TypeScript 5's DOM
// lib has no WebGPU types, so this entry adds @webgpu/types. From TypeScript 6 on the DOM lib
// declares WebGPU itself, and @webgpu/types beside it would declare everything twice
// (docs/api.md, "TypeScript").
/// <reference types="@webgpu/types" />
export * from '../../dist/src/text/index.js';
