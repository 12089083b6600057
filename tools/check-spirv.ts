#!/usr/bin/env node
// Compiles every GPU-path kernel specialisation (each GEMM tile × epilogue × bias, split-K and its
// reduce, each patch_embed tile, each attention variant a GPU runs × head dims × causal,
// attention_flash split over keys with its combine pass, and the small kernels) on lavapipe with
// 4-lane subgroups (LP_NATIVE_VECTOR_WIDTH=128: the 8-lane CPU-adapter variants are then not the
// models' choice, as on a GPU) and reads the SPIR-V Dawn hands the driver (MESA_SPIRV_DUMP_PATH).
// Reports every function-scope array indexed with a non-constant index (tools/spirv.ts): the
// access pattern that sent the GEMM to local memory on an NVIDIA driver (docs/gpu.md).
//
//   node dist/tools/check-spirv.js [--json]     exit 1 when any module has such an access
//
// The tool re-runs itself in a child process with those two variables set (Mesa reads them at
// load), compiling one pipeline at a time so each new dump file belongs to one specialisation.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectSpirv } from './spirv.js';

interface Compiled {
  name: string;
  files: string[];
}

/** One GPU-path specialisation: its name and how to make (and prepare) its dispatch on a device. */
interface Spec {
  name: string;
  /** A native_f16 build: compiled only where the device has shader-f16 (the H200's Dawn had none). */
  nativeF16?: boolean;
  make(device: GPUDevice): import('../src/kernels/program/index.js').Dispatch;
}

async function gpuPathSpecs(): Promise<Spec[]> {
  const k = await import('../src/kernels/index.js');
  // What to compile comes from the family tables: each GPU-path variant, its tiles, epilogues, head dims.
  const f = await import('../src/kernels/choose/variants.js');
  const t = (device: GPUDevice, shape: number[]) =>
    k.uploadTensor(device, new Float32Array(shape.reduce((a, b) => a * b, 1)), shape);
  // A weight of each dtype (weight-format.ts): f16 and q8 add the decoders and the scales.
  const w = (device: GPUDevice, dtype: 'f32' | 'f16' | 'q8', rows: number, K: number) => {
    const v = new Float32Array(rows * K);
    return k.uploadWeight(
      device,
      dtype === 'f16' ? k.toF16(v) : dtype === 'q8' ? k.quantizeQ8(v, rows, K) : v,
      rows,
      K,
    );
  };
  const specs: Spec[] = [];
  const gemmTiled = f.variantNames(f.GEMM_FAMILY).filter((v) => f.GEMM_SPECS[v].gpuPath && f.GEMM_SPECS[v].tiles);
  if (gemmTiled.length !== 1)
    throw new Error(`check-spirv: expected one GPU-path tiled GEMM, got ${gemmTiled.join(', ')}`);
  const variant = gemmTiled[0]!;
  for (const [tileName, tile] of Object.entries(k.GEMM_TILES)) {
    for (const epilogue of f.GEMM_EPILOGUES)
      for (const bias of [true, false])
        specs.push({
          name: `gemm ${variant} ${tileName} ${epilogue}${bias ? '' : ' no-bias'}`,
          make: (d) =>
            k.gemm(d, {
              x: t(d, [5, 8]),
              w: t(d, [3, 8]),
              bias: bias ? t(d, [3]) : null,
              y: t(d, [5, 3]),
              epilogue,
              tile,
              variant,
            }),
        });
    // The loop's other forms: the scalar staging (K % 4 != 0: no QUAD) and one copy of the tiles
    // (buffers 1, where tileBuffers would give 2), with the erf GELU.
    for (const [form, K, tl] of [
      ['scalar K=7', 7, tile],
      ['buffers 1', 8, { ...tile, buffers: 1 as const }],
    ] as const)
      specs.push({
        name: `gemm ${variant} ${tileName} gelu ${form}`,
        make: (d) =>
          k.gemm(d, {
            x: t(d, [5, K]),
            w: t(d, [3, K]),
            bias: t(d, [3]),
            y: t(d, [5, 3]),
            epilogue: 'gelu',
            tile: tl,
            variant,
          }),
      });
    // f16 packed (u32 words) and native (WGSL f16, the native_f16 build; devices with shader-f16), q8.
    const kinds = [
      ['f16', 'packed'],
      ['f16', 'native'],
      ['q8', undefined],
    ] as const;
    for (const [dtype, f16Loads] of kinds)
      for (const epilogue of ['residual', 'gelu'] as const)
        specs.push({
          name: `gemm ${variant} ${tileName} ${epilogue} ${dtype}${f16Loads ? ` ${f16Loads}` : ''} weights`,
          nativeF16: f16Loads === 'native',
          make: (d) =>
            k.gemm(d, {
              x: t(d, [5, 8]),
              w: w(d, dtype, 3, 8),
              bias: t(d, [3]),
              y: t(d, [5, 3]),
              epilogue,
              tile,
              variant,
              f16Loads,
            }),
        });
    // Split-K (SPLIT_K: partial sums into a workspace, no epilogue), in each weight dtype.
    for (const [dtype, f16Loads] of [['f32', undefined], ...kinds] as const)
      specs.push({
        name: `gemm ${variant} ${tileName} split-K ${dtype}${f16Loads ? ` ${f16Loads}` : ''} weights`,
        nativeF16: f16Loads === 'native',
        make: (d) =>
          k.gemm(d, {
            x: t(d, [5, 8]),
            w: w(d, dtype, 3, 8),
            bias: null,
            y: t(d, [2, 5, 3]),
            tile,
            variant,
            f16Loads,
            splitK: 2,
          }),
      });
    for (const [dtype, f16Loads] of kinds)
      specs.push({
        name: `patch_embed ${tileName} ${dtype}${f16Loads ? ` ${f16Loads}` : ''} weights`,
        nativeF16: f16Loads === 'native',
        make: (d) =>
          k.patchEmbed(d, {
            image: t(d, [1, 3, 4, 4]),
            weight: w(d, dtype, 8, 12),
            cls: t(d, [8]),
            pos: t(d, [5, 8]),
            out: t(d, [1, 5, 8]),
            tile,
            f16Loads,
          }),
      });
    specs.push({
      name: `patch_embed ${tileName}`,
      make: (d) =>
        k.patchEmbed(d, {
          image: t(d, [1, 3, 4, 4]),
          weight: t(d, [8, 3, 2, 2]),
          cls: t(d, [8]),
          pos: t(d, [5, 8]),
          out: t(d, [1, 5, 8]),
          tile,
        }),
    });
  }
  for (const variant of f.variantNames(f.ATTENTION_FAMILY).filter((v) => f.ATTENTION_SPECS[v].gpuPath))
    for (const D of f.ATTENTION_FAMILY.headDims)
      for (const causal of [false, true])
        specs.push({
          name: `attention ${variant} head_dim ${D}${causal ? ' causal' : ''}`,
          make: (d) => k.attention(d, { qkv: t(d, [1, 3, 3 * D]), out: t(d, [1, 3, D]), heads: 1, variant, causal }),
        });
  // attention_flash split over keys: its KEY_SPLITS build and the combine pass (attention_flash_combine).
  for (const D of f.ATTENTION_FAMILY.headDims)
    for (const causal of [false, true])
      specs.push({
        name: `attention flash head_dim ${D}${causal ? ' causal' : ''} key splits (+ attention_flash_combine)`,
        make: (d) =>
          k.attention(d, {
            qkv: t(d, [1, 40, 3 * D]),
            out: t(d, [1, 40, D]),
            heads: 1,
            variant: 'flash',
            causal,
            keySplits: 2,
          }),
      });
  // The split-K reduce: every epilogue, with and without bias, plain and with q8 row scales.
  for (const epilogue of f.GEMM_EPILOGUES)
    for (const bias of [true, false])
      for (const q8 of [false, true])
        specs.push({
          name: `gemm_splitk_reduce ${epilogue}${bias ? '' : ' no-bias'}${q8 ? ' q8 scales' : ''}`,
          make: (d) =>
            k.gemmSplitKReduce(d, {
              partials: t(d, [2, 5, 3]),
              bias: bias ? t(d, [3]) : null,
              y: t(d, [5, 3]),
              epilogue,
              scale: q8 ? t(d, [3]) : null,
            }),
        });
  specs.push({
    name: 'layernorm',
    make: (d) => k.layerNorm(d, { x: t(d, [2, 8]), gamma: t(d, [8]), beta: t(d, [8]), y: t(d, [2, 8]), eps: 1e-6 }),
  });
  specs.push({ name: 'mean_pool', make: (d) => k.meanPool(d, { x: t(d, [1, 3, 8]), y: t(d, [1, 8]), skip: 1 }) });
  specs.push({
    name: 'posemb_sincos',
    make: (d) => k.posembSincos(d, { omega: t(d, [2]), out: t(d, [5, 8]), grid: 2 }),
  });
  specs.push({
    name: 'embedding',
    make: (d) =>
      k.embedding(d, {
        ids: k.uploadTensor(d, new Uint32Array(2), [1, 2]),
        table: t(d, [4, 8]),
        pos: t(d, [2, 8]),
        out: t(d, [1, 2, 8]),
      }),
  });
  specs.push({
    name: 'embedding without pos (row gather)',
    make: (d) =>
      k.embedding(d, {
        ids: k.uploadTensor(d, new Uint32Array(2), [1, 2]),
        table: t(d, [4, 8]),
        pos: null,
        out: t(d, [1, 2, 8]),
      }),
  });
  for (const [dtype, f16Loads] of [
    ['f16', 'packed'],
    ['f16', 'native'],
    ['q8', undefined],
  ] as const)
    specs.push({
      name: `embedding ${dtype}${f16Loads ? ` ${f16Loads}` : ''} table`,
      nativeF16: f16Loads === 'native',
      make: (d) =>
        k.embedding(d, {
          ids: k.uploadTensor(d, new Uint32Array(2), [1, 2]),
          table: w(d, dtype, 4, 8),
          pos: t(d, [2, 8]),
          out: t(d, [1, 2, 8]),
          f16Loads,
        }),
    });
  return specs;
}

/** In the child: compile each specialisation in turn, noting the dump files each one added. */
async function child(dumpDir: string, out: string): Promise<void> {
  const { requestDevice } = await import('../src/device.js');
  const { device } = await requestDevice();
  const compiled: Compiled[] = [];
  let seen = new Set(readdirSync(dumpDir));
  for (const spec of await gpuPathSpecs()) {
    if (spec.nativeF16 && !device.features.has('shader-f16')) continue;
    const d = spec.make(device);
    await d.prepare?.();
    await device.queue.onSubmittedWorkDone();
    const now = readdirSync(dumpDir);
    compiled.push({ name: spec.name, files: now.filter((f) => !seen.has(f)) });
    seen = new Set(now);
    d.destroy();
  }
  writeFileSync(out, JSON.stringify(compiled));
  device.destroy();
}

export interface CheckResult {
  modules: { name: string; files: string[]; functionAccesses: number; dynamic: number }[];
  /** Specialisations whose pipeline added no dump file (already compiled under another name). */
  shared: string[];
}

/** Runs the check (spawns the child) and returns what every specialisation's modules hold. */
export function checkSpirv(): CheckResult {
  const dumpDir = mkdtempSync(join(tmpdir(), 'wgsl-vit-spirv-'));
  const listFile = join(dumpDir, '..', `${dumpDir.split('/').pop()}.json`);
  try {
    const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', dumpDir, listFile], {
      env: {
        ...process.env,
        LP_NATIVE_VECTOR_WIDTH: '128',
        MESA_SPIRV_DUMP_PATH: dumpDir,
        XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp',
      },
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`check-spirv: the compiling child failed (${r.status}): ${r.stderr}`);
    const compiled = JSON.parse(readFileSync(listFile, 'utf8')) as Compiled[];
    const modules: CheckResult['modules'] = [];
    const shared: string[] = [];
    for (const c of compiled) {
      if (c.files.length === 0) {
        shared.push(c.name);
        continue;
      }
      let functionAccesses = 0,
        dynamic = 0;
      for (const f of c.files) {
        const rep = inspectSpirv(readFileSync(join(dumpDir, f)));
        functionAccesses += rep.functionAccesses;
        dynamic += rep.dynamic.length;
      }
      modules.push({ name: c.name, files: c.files, functionAccesses, dynamic });
    }
    if (modules.length === 0)
      throw new Error(
        'check-spirv: no SPIR-V was dumped; the check needs Mesa (lavapipe), which writes the modules to MESA_SPIRV_DUMP_PATH',
      );
    return { modules, shared };
  } finally {
    rmSync(dumpDir, { recursive: true, force: true });
    rmSync(listFile, { force: true });
  }
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  if (process.argv[2] === '--child') {
    await child(process.argv[3]!, process.argv[4]!);
  } else {
    const res = checkSpirv();
    const bad = res.modules.filter((m) => m.dynamic > 0);
    if (process.argv.includes('--json')) console.log(JSON.stringify(res, null, 1));
    else {
      for (const m of res.modules)
        console.log(
          `${m.dynamic > 0 ? 'DYNAMIC' : 'ok     '} ${m.name}: ${m.dynamic} of ${m.functionAccesses} function-memory accesses non-constant`,
        );
      console.log(
        `${res.modules.length} modules checked (${res.shared.length} specialisations shared a pipeline); ${bad.length} with non-constant function-memory indices`,
      );
    }
    process.exit(bad.length > 0 ? 1 : 0);
  }
}
