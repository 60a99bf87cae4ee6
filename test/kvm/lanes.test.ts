// Which L1 runs which guest (src/backends/kvm/lanes.ts).
import { describe, expect, it } from "vitest";
import { guestCost, lanesFor } from "../../src/backends/kvm/lanes.js";
import type { BatchJob } from "../../src/backends/kvm/l1.js";
import type { HostStep } from "../../src/backends/real/pipeline.js";

const job = (steps: HostStep[], args: string[] = []): BatchJob => ({ elf: new Uint8Array(), args, hideCaps: [], steps });
const vfio = (name: string): HostStep => ({ kind: "plug", device: { name, phbIndex: 0, slot: 1, vfio: true, host: 1 }, bus: "pci.0" });

describe("lanes", () => {
  it("runs each guest once, and gives each lane about the same work: the costliest first, each to the lane with the least", () => {
    const costs = [1, 1, 1, 1, 8, 1, 1, 1, 1, 4];
    const lanes = lanesFor(costs, costs.map(() => false), 2);
    expect(lanes.flat().sort((x, y) => x - y)).toEqual(costs.map((_, i) => i));
    const work = lanes.map((lane) => lane.reduce((n, i) => n + costs[i]!, 0));
    expect(work).toEqual([10, 10]);
    // In their own order within a lane.
    for (const lane of lanes) expect(lane).toEqual([...lane].sort((x, y) => x - y));
    // Halves by count would have been 12 and 8.
  });

  it("puts a guest that spoils its host last in a lane, one to a lane while there are lanes: no L1 boots again for the guests after it", () => {
    const costs = [1, 1, 1, 1, 1, 1];
    const spoils = [false, true, false, true, false, true];
    const lanes = lanesFor(costs, spoils, 2);
    expect(lanes.flat().sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5]);
    for (const lane of lanes) {
      const first = lane.findIndex((i) => spoils[i]);
      // After a lane's first spoiler come only spoilers.
      expect(lane.slice(first).every((i) => spoils[i])).toBe(true);
    }
    expect(lanes.map((lane) => lane.filter((i) => spoils[i]).length).sort()).toEqual([1, 2]);
  });

  it("has no more lanes than guests, and one lane for one guest", () => {
    expect(lanesFor([2], [false], 4)).toEqual([[0]]);
    expect(lanesFor([1, 1], [true, true], 4)).toEqual([[0], [1]]);
    expect(lanesFor([], [], 2)).toEqual([]);
  });

  it("weighs a guest by what its L1 does for it: vfio-pci plugs (with its RAM), migrations, resets", () => {
    const alone = guestCost(job([]));
    const plugged = guestCost(job([vfio("d0")]));
    expect(plugged).toBeGreaterThan(alone);
    expect(guestCost(job([vfio("d0")], ["-m", "2048M"]))).toBeGreaterThan(plugged);
    expect(guestCost(job([{ kind: "migrate" }]))).toBeGreaterThan(alone);
    expect(guestCost(job([{ kind: "reset" }]))).toBeGreaterThan(alone);
  });
});
