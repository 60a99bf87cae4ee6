// Which L1 runs which guest. The L1s of a launch run side by side and the run ends with the
// slowest, so each should end about when the others do; a guest that spoils its host (its kernel
// wrote past a TCE table: the guests after it need a fresh L1) should come last in an L1, where
// no guest is left to need one. On the pseries host every L1 holds every guest and is handed the
// next as it asks (HandOut); where L0 loads only a small initramfs (PowerNV) each L1 gets a lane
// fixed in advance (lanesFor), of about equal guessed cost.
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

/** Orders guest indices by cost, the costliest first (the lower index first among equals). */
const costliestFirst = (costs: readonly number[]) => (x: number, y: number) => costs[y]! - costs[x]! || x - y;

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
  const byCost = (indices: number[]) => indices.sort(costliestFirst(costs));
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

/**
 * The guests of one launch, handed to its L1s one at a time as each asks (runL1's handOut): the
 * costliest first, so that the L1s end close together whatever each guest really takes (lanes
 * fixed in advance ended 3 to 7 s apart for the library, its guests' times varying by 0.4 s
 * each about the costs guestCost guesses); a guest that spoils its host only once no other is
 * left, and as that L1's last (one that asks again is told to stop). A guest given back (its L1
 * stopped before starting it) is handed again.
 */
/** How often a guest is handed again after its L1 stopped before starting it. */
const GIVE_BACKS = 2;

export class HandOut {
  private readonly plain: number[];
  private readonly spoilers: number[];
  private readonly givenBack: number[];
  constructor(
    costs: readonly number[],
    private readonly spoils: readonly boolean[],
  ) {
    const all = costs.map((_, i) => i);
    this.plain = all.filter((i) => !spoils[i]).sort(costliestFirst(costs));
    this.spoilers = all.filter((i) => spoils[i]).sort(costliestFirst(costs));
    this.givenBack = costs.map(() => 0);
  }

  /** How many guests are still to be handed. */
  get left(): number {
    return this.plain.length + this.spoilers.length;
  }

  /**
   * Whether a lane whose L1 stopped (its host kernel crashed, or it ran a guest that spoils its
   * host) boots another: while guests that spoil no host are left, or more that do than the L1s
   * running now (`live`) can still take, one each. (Else the L1 booted would find nothing left.)
   */
  needsAnother(live: readonly { spoiled?: boolean }[]): boolean {
    return this.plain.length > 0 || this.spoilers.length > live.filter((l1) => !l1.spoiled).length;
  }

  /** The next guest for an L1 (`l1` is its own record, kept across its requests), or undefined: it is to stop. */
  next(l1: { spoiled?: boolean }): number | undefined {
    if (l1.spoiled) return undefined;
    const plain = this.plain.shift();
    if (plain !== undefined) return plain;
    const spoiler = this.spoilers.shift();
    if (spoiler !== undefined) l1.spoiled = true;
    return spoiler;
  }

  /**
   * A guest handed to an L1 that stopped before starting it: handed again, next, unless it was
   * given back `GIVE_BACKS` times already (false: it keeps the reason it was not run).
   */
  giveBack(i: number): boolean {
    if (this.givenBack[i]! >= GIVE_BACKS) return false;
    this.givenBack[i]!++;
    (this.spoils[i] ? this.spoilers : this.plain).unshift(i);
    return true;
  }
}
