// Types of tools/embed-wgsl.mjs, for the test of its template step (test/wgsl/unroll.test.ts).
/** Expands the //!unroll blocks of a WGSL text (`f` names the file in errors). */
export function unroll(text: string, f?: string): string;
/** The 'packed' or 'native_f16' build of a text with //!variant blocks, or null when it has none. */
export function variant(text: string, which: 'packed' | 'native_f16', f?: string): string | null;
/** Writes src/wgsl/sources.generated.ts from src/wgsl/*.wgsl. */
/** The 'f32' or 'f16' arithmetic of a text with //!math blocks, or null when it has none. */
export function math(text: string, which: 'f32' | 'f16', f?: string): string | null;

export function embedAll(): void;
