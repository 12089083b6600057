// Shapes: the one place where a shape's element count is computed.

/** Number of elements of a tensor of `shape` (1 for a 0-d tensor). */
export const elementCount = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);
