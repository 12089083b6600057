// The mean-pool rows: checked in full against the float64 reference; GB/s of the input read.
import { meanPool } from '../../src/kernels/mean-pool.js';
import { meanPoolRef } from '../../reference/mean-pool.js';
import { fullCheck, type Bench } from './context.js';

/** [label, B, rows, dim]. */
export const MEAN_POOL_SHAPES = [
  ['b16 32×197×768', 32, 197, 768],
  ['b8 1×785×768', 1, 785, 768],
] as const;

export async function meanPoolRows(b: Bench): Promise<void> {
  for (const [name, B, rowsN, dim] of MEAN_POOL_SHAPES) {
    if (!b.want(`mean_pool ${name}`)) continue;
    const xv = b.data(B * rowsN * dim);
    const y = b.tensor([B, dim]);
    const d = meanPool(b.device, { x: b.tensor([B, rowsN, dim], xv), y, skip: 1 });
    await b.runOnce(d);
    const ref = meanPoolRef(xv, B, rowsN, dim, 1);
    await b.record(
      'mean_pool',
      name,
      '',
      d,
      0,
      4 * B * rowsN * dim,
      'GB/s',
      fullCheck(await b.read(y), ref.y, ref.bound),
    );
  }
}
