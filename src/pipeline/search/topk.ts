// The best k of a stream of (score, row) pairs, on the host: a bounded heap of the k best so far
// (O(n log k) for n scores). The order is total, so a ranking never depends on the order the scores
// arrive in (chunks, query batches): a higher score first; equal scores by the lower row (the index's
// global row: parts in order, rows within a part in order); NaN below every number (a NaN row of a
// damaged index never takes a real row's place), NaNs among themselves by row too.

/** Whether (sa, ra) ranks before (sb, rb). */
export function ranksBefore(sa: number, ra: number, sb: number, rb: number): boolean {
  const a = Number.isNaN(sa) ? -Infinity : sa,
    b = Number.isNaN(sb) ? -Infinity : sb;
  if (a !== b) return a > b;
  const na = Number.isNaN(sa),
    nb = Number.isNaN(sb);
  if (na !== nb) return nb; // -Infinity before NaN
  return ra < rb;
}

export class TopK {
  private readonly scores: Float64Array;
  private readonly rows: Float64Array;
  private size = 0;

  constructor(readonly k: number) {
    this.scores = new Float64Array(k);
    this.rows = new Float64Array(k);
  }

  /** Offers one pair; kept when it ranks among the k best so far. */
  push(score: number, row: number): void {
    const { scores, rows } = this;
    if (this.size < this.k) {
      // sift up: the root (index 0) is the worst kept
      let i = this.size++;
      while (i > 0) {
        const p = (i - 1) >> 1;
        if (!ranksBefore(scores[p]!, rows[p]!, score, row)) break;
        scores[i] = scores[p]!;
        rows[i] = rows[p]!;
        i = p;
      }
      scores[i] = score;
      rows[i] = row;
      return;
    }
    if (!ranksBefore(score, row, scores[0]!, rows[0]!)) return;
    // replace the worst, sift down
    let i = 0;
    for (;;) {
      const l = 2 * i + 1,
        r = l + 1;
      let w = -1;
      // the worse child (it must come up, so that the root stays the worst)
      if (l < this.k) w = l;
      if (r < this.k && ranksBefore(scores[l]!, rows[l]!, scores[r]!, rows[r]!)) w = r;
      if (w < 0 || !ranksBefore(score, row, scores[w]!, rows[w]!)) break;
      scores[i] = scores[w]!;
      rows[i] = rows[w]!;
      i = w;
    }
    scores[i] = score;
    rows[i] = row;
  }

  /** The kept pairs, best first. */
  sorted(): { score: number; row: number }[] {
    const out: { score: number; row: number }[] = [];
    for (let i = 0; i < this.size; i++) out.push({ score: this.scores[i]!, row: this.rows[i]! });
    return out.sort((a, b) => (ranksBefore(a.score, a.row, b.score, b.row) ? -1 : 1));
  }
}
