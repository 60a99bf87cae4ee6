// The run map against the plainest model of it: a Map of index to value.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { RunMap } from "../../src/engine/runs.js";

describe("RunMap", () => {
  it("answers as a plain map would, after any sequence of range writes, and keeps its runs merged", () => {
    const write = fc.record({ start: fc.nat(40), count: fc.nat(12), value: fc.constantFrom(0n, 1n, 2n, 3n) });
    fc.assert(
      fc.property(fc.array(write, { maxLength: 30 }), (writes) => {
        const runs = new RunMap();
        const plain = new Map<number, bigint>();
        for (const { start, count, value } of writes) {
          runs.setRange(start, count, value);
          for (let i = start; i < start + count; i++) value === 0n ? plain.delete(i) : plain.set(i, value);
        }
        for (let i = 0; i < 60; i++) expect(runs.get(i)).toBe(plain.get(i) ?? 0n);
        expect(runs.size).toBe(plain.size);
        const list = [...runs.runs()];
        list.forEach(([start, count, value], k) => {
          expect(count).toBeGreaterThan(0);
          expect(value).not.toBe(0n);
          const next = list[k + 1];
          if (next) expect(next[0] > start + count || next[2] !== value).toBe(true);
        });
      }),
      { numRuns: 500 },
    );
  });

  it("a write of 2^32 entries costs one run", () => {
    const runs = new RunMap();
    runs.setRange(0, 2 ** 32, 3n);
    runs.setRange(2 ** 31, 1, 0n);
    expect([...runs.runs()]).toEqual([
      [0, 2 ** 31, 3n],
      [2 ** 31 + 1, 2 ** 32 - 2 ** 31 - 1, 3n],
    ]);
  });
});
