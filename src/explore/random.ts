// A small seeded generator (mulberry32): the same seed gives the same scenarios on every machine.
export class Random {
  private state: number;
  /** `state`: where an earlier generator stopped (its `saved()`), to go on from there. */
  constructor(seed: number, state?: number) {
    this.state = (state ?? seed) >>> 0;
  }
  /** The generator's state, for a run that goes on later from here. */
  saved(): number {
    return this.state;
  }
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(below: number): number {
    return Math.floor(this.next() * below);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}
