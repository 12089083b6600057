// A small SPIR-V reader for one question: does a module index function-scope (private, per
// invocation) memory with an index that is not a constant? Such an access keeps a register array
// addressable, and a GPU driver that cannot resolve it by unrolling puts the array in local
// memory: the GEMM fell 10× that way on an NVIDIA H200 (docs/gpu.md). Used by tools/check-spirv.ts
// and its test; the modules come from Mesa (MESA_SPIRV_DUMP_PATH), exactly as Dawn hands them to
// the driver.

/** SPIR-V opcodes this reader looks at (SPIR-V spec, section 3.52). */
const Op = {
  TypePointer: 32,
  ConstantTrue: 41,
  ConstantFalse: 42,
  Constant: 43,
  ConstantComposite: 44,
  ConstantNull: 46,
  SpecConstantTrue: 48,
  SpecConstantFalse: 49,
  SpecConstant: 50,
  SpecConstantComposite: 51,
  SpecConstantOp: 52,
  FunctionParameter: 55,
  Variable: 59,
  AccessChain: 65,
  InBoundsAccessChain: 66,
  PtrAccessChain: 67,
  InBoundsPtrAccessChain: 70,
} as const;
/** Storage class Function: memory private to one invocation (WGSL `var` in a function). */
const STORAGE_FUNCTION = 7;
const MAGIC = 0x07230203;

export interface DynamicAccess {
  /** Word offset of the access-chain instruction in the module. */
  word: number;
  /** Result id of the access chain, and the id of its base pointer. */
  result: number;
  base: number;
}

export interface SpirvReport {
  /** Access chains into Function-storage memory with at least one non-constant index. */
  dynamic: DynamicAccess[];
  /** All access chains into Function-storage memory (the dynamic ones included). */
  functionAccesses: number;
}

/** Parses a SPIR-V module (little-endian words) and lists its non-constant function-memory accesses. */
export function inspectSpirv(bytes: Uint8Array): SpirvReport {
  if (bytes.byteLength % 4 !== 0 || bytes.byteLength < 20) throw new Error('not a SPIR-V module: size');
  const words = new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  if (words[0] !== MAGIC) throw new Error(`not a SPIR-V module: magic 0x${(words[0] ?? 0).toString(16)}`);
  const pointerClass = new Map<number, number>(); // pointer type id → storage class
  const constants = new Set<number>();
  const functionPointers = new Set<number>(); // ids of pointers into Function storage
  const pending: { word: number; result: number; base: number; indices: number[] }[] = [];
  for (let i = 5; i < words.length;) {
    const w = words[i]!;
    const count = w >>> 16,
      op = w & 0xffff;
    if (count === 0 || i + count > words.length) throw new Error(`malformed SPIR-V at word ${i}`);
    const a = (k: number) => words[i + k]!;
    switch (op) {
      case Op.TypePointer:
        pointerClass.set(a(1), a(2));
        break;
      case Op.ConstantTrue:
      case Op.ConstantFalse:
      case Op.Constant:
      case Op.ConstantComposite:
      case Op.ConstantNull:
      case Op.SpecConstantTrue:
      case Op.SpecConstantFalse:
      case Op.SpecConstant:
      case Op.SpecConstantComposite:
      case Op.SpecConstantOp:
        constants.add(a(2));
        break;
      case Op.Variable:
        if (a(3) === STORAGE_FUNCTION) functionPointers.add(a(2));
        break;
      case Op.FunctionParameter:
        if (pointerClass.get(a(1)) === STORAGE_FUNCTION) functionPointers.add(a(2));
        break;
      case Op.AccessChain:
      case Op.InBoundsAccessChain:
      case Op.PtrAccessChain:
      case Op.InBoundsPtrAccessChain: {
        const indices: number[] = [];
        for (let k = 4; k < count; k++) indices.push(a(k));
        if (pointerClass.get(a(1)) === STORAGE_FUNCTION) functionPointers.add(a(2));
        pending.push({ word: i, result: a(2), base: a(3), indices });
        break;
      }
    }
    i += count;
  }
  const dynamic: DynamicAccess[] = [];
  let functionAccesses = 0;
  for (const p of pending) {
    if (!functionPointers.has(p.base)) continue;
    functionAccesses++;
    if (p.indices.some((id) => !constants.has(id))) dynamic.push({ word: p.word, result: p.result, base: p.base });
  }
  return { dynamic, functionAccesses };
}
