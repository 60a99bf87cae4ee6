// Table entries as runs: each run is a stretch of entries holding one non-zero value. A stuff of
// N entries is one run, so a table costs what it maps in memory and in time, whatever N is.
export class RunMap {
  // Parallel arrays, sorted by start, non-overlapping, neighbours with equal values merged.
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private readonly values: bigint[] = [];

  /** The first run that ends after `index` (binary search). */
  private firstEndingAfter(index: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid]! <= index) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  get(index: number): bigint {
    const i = this.firstEndingAfter(index);
    return i < this.starts.length && this.starts[i]! <= index ? this.values[i]! : 0n;
  }

  /** Entries [start, start + count) hold `value` (0: unmapped) from now on. */
  setRange(start: number, count: number, value: bigint): void {
    if (count <= 0) return;
    const end = start + count;
    let i = this.firstEndingAfter(start);
    const pieces: [number, number, bigint][] = [];
    // What the runs that overlap [start, end) keep outside it.
    let j = i;
    while (j < this.starts.length && this.starts[j]! < end) {
      if (this.starts[j]! < start) pieces.push([this.starts[j]!, start, this.values[j]!]);
      if (this.ends[j]! > end) pieces.push([end, this.ends[j]!, this.values[j]!]);
      j++;
    }
    if (value !== 0n) pieces.push([start, end, value]);
    pieces.sort((a, b) => a[0] - b[0]);
    // Merge with equal neighbours, including the runs just before and after.
    if (i > 0 && pieces.length > 0 && this.ends[i - 1] === pieces[0]![0] && this.values[i - 1] === pieces[0]![2]) {
      i--;
      pieces[0] = [this.starts[i]!, pieces[0]![1], pieces[0]![2]];
    }
    const last = pieces[pieces.length - 1];
    if (last && j < this.starts.length && this.starts[j] === last[1] && this.values[j] === last[2]) {
      last[1] = this.ends[j]!;
      j++;
    }
    const merged: [number, number, bigint][] = [];
    for (const piece of pieces) {
      const prev = merged[merged.length - 1];
      if (prev && prev[1] === piece[0] && prev[2] === piece[2]) prev[1] = piece[1];
      else merged.push([...piece]);
    }
    this.starts.splice(i, j - i, ...merged.map((p) => p[0]));
    this.ends.splice(i, j - i, ...merged.map((p) => p[1]));
    this.values.splice(i, j - i, ...merged.map((p) => p[2]));
  }

  set(index: number, value: bigint): void {
    this.setRange(index, 1, value);
  }

  /** The runs, as [start, count, value], in order. */
  *runs(): Generator<[number, number, bigint]> {
    for (let i = 0; i < this.starts.length; i++) yield [this.starts[i]!, this.ends[i]! - this.starts[i]!, this.values[i]!];
  }

  /** How many entries are mapped. */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.starts.length; i++) n += this.ends[i]! - this.starts[i]!;
    return n;
  }
}
