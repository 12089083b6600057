// Warnings: what goes wrong in a cache (tuning profiles, downloaded blocks) is reported, never fatal.

const warned = new Set<string>();
/** console.warn once per process and message: a cache problem is reported, never fatal. */
export function warnOnce(message: string): void {
  if (warned.has(message)) return;
  warned.add(message);
  console.warn(`wgsl-vit: ${message}`);
}
