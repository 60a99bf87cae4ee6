// Which L1 runs which guest (src/backends/kvm/lanes.ts).
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { guestCost, HandOut, lanesFor } from "../../src/backends/kvm/lanes.js";
import { batchScript, type BatchJob } from "../../src/backends/kvm/l1.js";
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

describe("handing guests out to the L1s as they ask", () => {
  it("hands the costliest first, each guest once; a guest that spoils its host only when no other is left, and as its L1's last", () => {
    const costs = [1, 5, 2, 9, 3];
    const spoils = [false, false, true, false, false];
    const queue = new HandOut(costs, spoils);
    const a = {};
    const b = {};
    expect([queue.next(a), queue.next(b), queue.next(a), queue.next(b)]).toEqual([3, 1, 4, 0]);
    expect(queue.left).toBe(1);
    // Only the spoiler is left: b takes it, and is told to stop when it asks again.
    expect(queue.next(b)).toBe(2);
    expect(queue.next(b)).toBeUndefined();
    expect(queue.next(a)).toBeUndefined();
    expect(queue.left).toBe(0);
  });

  it("hands again, first, a guest its L1 stopped before starting (twice at most)", () => {
    const queue = new HandOut([3, 2, 1], [false, false, false]);
    const l1 = {};
    expect(queue.next(l1)).toBe(0);
    expect(queue.giveBack(0)).toBe(true);
    expect([queue.next(l1), queue.next(l1), queue.next(l1)]).toEqual([0, 1, 2]);
    // Twice at most: the third time it keeps the reason it was not run.
    expect(queue.giveBack(0)).toBe(true);
    expect(queue.next(l1)).toBe(0);
    expect(queue.giveBack(0)).toBe(false);
    expect(queue.left).toBe(0);
  });

  it("boots another L1 for guests the L1s running now will not take: any that spoil no host, or spoilers beyond one for each", () => {
    const queue = new HandOut([1, 1, 1], [false, true, true]);
    expect(queue.needsAnother([{}])).toBe(true);
    const a = { spoiled: false };
    queue.next(a);
    // Two spoilers, one live L1 that can take one: another is needed.
    expect(queue.needsAnother([a])).toBe(true);
    expect(queue.needsAnother([a, {}])).toBe(false);
    queue.next(a);
    expect(a.spoiled).toBe(true);
    expect(queue.needsAnother([a])).toBe(true);
    expect(queue.needsAnother([a, {}])).toBe(false);
  });

  it("runs, in L1's script, the guests the host names in the order it names them, until it says end; a garbled answer stops L1 with an error", () => {
    const dir = mkdtempSync(join(tmpdir(), "tcespec-handout-"));
    try {
      // A stand-in for the guests' QEMU: says which guest's ELF it was given.
      const qemu = join(dir, "qemu");
      writeFileSync(qemu, '#!/bin/sh\nwhile [ "$1" != -kernel ]; do shift; done\necho "TCESPEC-BEGIN"; echo "ran $(basename $2)"; echo "TCESPEC-END"\n');
      chmodSync(qemu, 0o755);
      const place = { elfs: dir, work: dir, qemu, shim: "", accel: "tcg" as const, tuneAslr: false, listVfio: false, kernelLog: false };
      const jobs = [job([]), job([]), job([])];
      const script = join(dir, "run.sh");
      writeFileSync(script, batchScript(jobs, 10_000, place, true));
      const run = (answers: string) => execFileSync("sh", [script], { input: answers, encoding: "utf8" });
      const out = run("2\n0\nend\n1\n");
      expect(out.match(/ran \d+\.elf/g)).toEqual(["ran 2.elf", "ran 0.elf"]);
      expect(out.match(/TCESPEC-NEXT/g)).toHaveLength(3);
      expect(out).toMatch(/TCESPEC-RUN 2 [\s\S]*TCESPEC-DONE 2 0 [\s\S]*TCESPEC-RUN 0 /);
      const garbled = run("1\nx1\n0\n");
      expect(garbled.match(/ran \d+\.elf/g)).toEqual(["ran 1.elf"]);
      expect(garbled).toContain("TCESPEC-L1-ERROR unreadable hand-out 'x1'");
      // Without hand-out: every guest, in order, and no question asked.
      writeFileSync(script, batchScript(jobs, 10_000, place));
      const all = run("");
      expect(all.match(/ran \d+\.elf/g)).toEqual(["ran 0.elf", "ran 1.elf", "ran 2.elf"]);
      expect(all).not.toContain("TCESPEC-NEXT");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
