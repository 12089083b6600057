// Low-level entry point (`wgsl-vit/kernels`): every kernel on its own, with its WGSL source.
// Each wrapper checks shapes against the kernel's shape rules, then returns a `Dispatch` that the
// caller records into its own compute pass (`d.encode(pass)`).
export {
  layerNorm,
  layerNormKernel,
  layerNormTexture,
  layerNormTextureKernel,
  type LayerNormArgs,
  type LayerNormTextureArgs,
} from './layernorm.js';
export { gemmTexture, gemmTextureKernel, type GemmTextureArgs } from './gemm-texture.js';
export {
  gemmSubgroupMatrixKernel,
  gemmSubgroupMatrixTemplate,
  specialiseSubgroupMatrix,
  subgroupMatrixBlock,
} from './gemm-subgroup-matrix.js';
export {
  chooseSubgroupMatrixConfig,
  subgroupMatrixConfigFor,
  subgroupMatrixConfigName,
  SUBGROUP_MATRIX_FEATURE,
  type SubgroupMatrixConfig,
  type SubgroupMatrixComponentType,
} from './choose/subgroup-matrix.js';
export { attentionTexture, attentionTextureKernel, type AttentionTextureArgs } from './attention-texture.js';
export { texturePack, texturePackKernel, type TexturePackArgs } from './texture-pack.js';
export {
  createMatrixTexture,
  uploadMatrixTexture,
  readMatrixTexture,
  matrixTextureWidth,
  isTextureRef,
  MATRIX_TEXTURE_ROWS,
  MATRIX_TEXTURE_FORMAT,
} from './program/texture-matrix.js';
export {
  chooseGemmVariant,
  chooseAttentionVariant,
  chooseGemmTile,
  chooseGemmPlan,
  chooseGemmSplit,
  tileCandidates,
  type AdapterTraits,
  type GemmPlan,
  type GemmShape,
} from './choose/choose.js';
export { gemmSplitKReduce, gemmSplitKReduceKernel, type GemmSplitKReduceArgs } from './gemm-splitk-reduce.js';
export {
  gemm,
  gemmKernel,
  gemmSubgroupKernel,
  gemmNativeF16Kernel,
  gemmF16MathKernel,
  gemmSubgroupNativeF16Kernel,
  gemmVariantFor,
  canRunSubgroupGemm,
  GEMM_VARIANTS,
  type GemmArgs,
  type GemmEpilogue,
  type GemmVariant,
} from './gemm.js';
export {
  GEMM_TILES,
  gemmTileFor,
  setGemmTile,
  checkTile,
  tileBlock,
  tileLaunch,
  tileName,
  tileWorkgroupBytes,
  tileProblem,
  type GemmTile,
  type TileLimits,
} from './gemm-tile.js';
export {
  attention,
  attentionKernel,
  attentionBroadcastKernel,
  attentionTiledKernel,
  attentionFlashKernel,
  attentionFlashF16MathKernel,
  attentionFlashCombineKernel,
  flashWorkgroupBytes,
  flashKeyRanges,
  attentionSubgroupKernel,
  attentionVariantFor,
  setAttentionVariant,
  ATTENTION_VARIANTS,
  ATTENTION_MAX_HEAD_DIM,
  type AttentionArgs,
  type AttentionVariant,
} from './attention.js';
export { isCpuAdapter, hasSubgroupsOf8, adapterTraits } from './choose/adapter.js';
export {
  GEMM_FAMILY,
  ATTENTION_FAMILY,
  GEMM_EPILOGUES,
  runnableVariants,
  variantProblem,
  type VariantSpec,
  type VariantNeed,
} from './choose/variants.js';
export {
  patchEmbed,
  patchEmbedKernel,
  patchEmbedNativeF16Kernel,
  patchEmbedTexture,
  patchEmbedTextureKernel,
  patchPack,
  patchPackKernel,
  type PatchEmbedArgs,
  type PatchEmbedTextureArgs,
  type PatchPackArgs,
} from './patch-embed.js';
export { meanPool, meanPoolKernel, type MeanPoolArgs } from './mean-pool.js';
export { embedding, embeddingKernel, embeddingNativeF16Kernel, type EmbeddingArgs } from './embedding.js';
export {
  posembSincos,
  posembSincos2d,
  posembOmega,
  posembSincosKernel,
  type PosembSincosArgs,
} from './posemb-sincos.js';
export {
  createDispatch,
  pipelineFor,
  pipelineForAsync,
  signatureOf,
  encodeAlone,
  byteSize,
  elementCount,
  type Dispatch,
  type TensorRef,
  type TextureRef,
  type DType,
  type WeightDType,
  WEIGHT_DTYPES,
  weightRowWords,
  packWeight,
  toF16,
  quantizeQ8,
  dequantize,
  f32ToF16Bits,
  f16BitsToF32,
  uploadWeightTexture,
  f16LoadsFor,
  type F16Loads,
  PRECISIONS,
  precisionProblem,
  type Precision,
  type Q8Weight,
  type KernelSource,
  type KernelSignature,
} from './program/index.js';
export {
  uploadTensor,
  uploadWeight,
  poisonedTensor,
  readTensor,
  runDispatches,
  timeDispatch,
} from './program/harness.js';
export { KernelArgumentError } from '../errors.js';
