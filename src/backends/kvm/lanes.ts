// Which L1 runs which guest. Each lane is one L1 booted once, so its guests should take about as
// long as the other lanes' (the run ends with the slowest), and a guest that spoils its host (its
// kernel wrote past a TCE table: the guests after it need a fresh L1) should come last in a lane,
// where no guest is left to need one.
import { guestRam, type BatchJob } from "./l1.js";

/**
 * About how long a guest keeps its L1 busy, in seconds of a pseries L1 on 2 cores (measured per
 * guest from L1's console, the library on model,kvm): a guest alone 0.35 s; a vfio-pci plug pins
 * the guest's RAM and replays the table (its probes' DMAs come with it) 2 s; another plug or an
 * unplug 0.6 s; a migration 4 s; a reset 1 s. Only the proportions matter.
 */
export function guestCost(job: BatchJob): number {
  const steps = job.steps ?? [];
  const count = (kind: string) => steps.filter((s) => s.kind === kind).length;
  const vfio = steps.filter((s) => s.kind === "plug" && s.device.vfio).length;
  const devices = count("plug") + count("unplug");
  return 0.35 + (vfio > 0 ? 2 + (ramGiB(job) - 0.5) * 4 : 0) + Math.max(0, devices - 1) * 0.6 + count("migrate") * 4 + count("reset");
}

/** The guest's RAM in GiB (the planner always gives -m; 0.5, its default, where not). */
function ramGiB(job: BatchJob): number {
  const bytes = guestRam(job);
  return bytes === 0n ? 0.5 : Number(bytes >> 20n) / 1024;
}

/**
 * The guests of each lane, as indices into `jobs`: each given to the lane with the least work so
 * far, the costliest first; the guests that spoil their host go last, one to a lane while there
 * are lanes (more than that end a lane's L1 early: afterSpoilers boots another). Within a lane
 * the guests keep the order they came in. Every lane runs at least one guest where there are as
 * many guests as lanes.
 */
export function lanesFor(costs: readonly number[], spoils: readonly boolean[], lanes: number): number[][] {
  const count = Math.max(1, Math.min(lanes, costs.length));
  const work = Array.from({ length: count }, () => 0);
  const plain: number[][] = Array.from({ length: count }, () => []);
  const last: number[][] = Array.from({ length: count }, () => []);
  const least = () => work.indexOf(Math.min(...work));
  const byCost = (indices: number[]) => indices.sort((x, y) => costs[y]! - costs[x]! || x - y);
  const spoilers = byCost(costs.map((_, i) => i).filter((i) => spoils[i]));
  // Spoilers first, so that each lane gets one before any gets two.
  spoilers.forEach((i, k) => {
    const lane = k < count ? k : least();
    last[lane]!.push(i);
    work[lane]! += costs[i]!;
  });
  for (const i of byCost(costs.map((_, j) => j).filter((j) => !spoils[j]))) {
    const lane = least();
    plain[lane]!.push(i);
    work[lane]! += costs[i]!;
  }
  return plain.map((lane, k) => [...lane.sort((x, y) => x - y), ...last[k]!.sort((x, y) => x - y)]).filter((lane) => lane.length > 0);
}
