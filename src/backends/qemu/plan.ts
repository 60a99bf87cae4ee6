// A compiled spec as the real machine can run it: the guest calls in evaluation order, the
// QEMU command line for its PHBs, or the reason the spec cannot run on QEMU here.
import type { CompiledSpec, Probe } from "../../compile/program.js";
import type { Operation, Outcome, PhbConfig, ProfileName } from "../../engine/types.js";
import { buidOf, DMA64_WINDOW_ADDR } from "../../engine/types.js";
import { geometry, hex } from "../../values.js";
import { parseSize } from "../../compile/literals.js";
import type { GuestCall } from "./guest.js";

export const H_GET_TCE = 0x1cn;
export const H_PUT_TCE = 0x20n;
export const H_STUFF_TCE = 0x138n;
export const H_PUT_TCE_INDIRECT = 0x13cn;
/** RTAS tokens of QEMU 7.2. */
export const RTAS_TOKENS = { query: 0x2026n, create: 0x2027n, remove: 0x2028n, reset: 0x2029n } as const;

const DEFAULT_DMA32 = 1n << 30n;

/** The guest calls one step needs, and how their answers read as the step's outcome or value. */
export interface PlannedStep {
  calls: GuestCall[];
  read: (outcomes: Outcome[]) => Outcome | string;
}

export interface QemuPlan {
  steps: PlannedStep[];
  args: string[];
}

function log2(value: bigint): bigint {
  return BigInt(value.toString(2).length - 1);
}

function buidArgs(phbIndex: number): bigint[] {
  const buid = buidOf(phbIndex);
  return [0n, buid >> 32n, buid & 0xffffffffn];
}

/** The call an operation makes, or why the guest cannot make it here. */
export function callFor(operation: Operation): GuestCall | string {
  switch (operation.kind) {
    case "put_tce":
      return { kind: "hcall", opcode: H_PUT_TCE, args: [operation.liobn, operation.ioba, operation.tce] };
    case "get_tce":
      return { kind: "hcall", opcode: H_GET_TCE, args: [operation.liobn, operation.ioba] };
    case "stuff_tce":
      return { kind: "hcall", opcode: H_STUFF_TCE, args: [operation.liobn, operation.ioba, operation.tce, operation.count] };
    case "put_tce_indirect":
      return {
        kind: "hcall",
        opcode: H_PUT_TCE_INDIRECT,
        args: [operation.liobn, operation.ioba, 0n, BigInt(operation.tces.length)],
        list: { tces: operation.tces, offsetInPage: operation.listAddress & 0xfffn },
      };
    case "create_window":
      return {
        kind: "rtas",
        token: RTAS_TOKENS.create,
        args: [...buidArgs(operation.phbIndex), log2(operation.pageSize), log2(operation.windowSize)],
        nret: 4,
      };
    case "remove_window":
      return { kind: "rtas", token: RTAS_TOKENS.remove, args: [operation.liobn], nret: 1 };
    case "reset_windows":
      return { kind: "rtas", token: RTAS_TOKENS.reset, args: buidArgs(operation.phbIndex), nret: 1 };
    case "query_window":
      return { kind: "rtas", token: RTAS_TOKENS.query, args: buidArgs(operation.phbIndex), nret: 5 };
    case "plug":
      return `plug ${operation.device}: device hotplug is not driven from the guest here`;
    case "unplug":
      return "unplug: device hotplug is not driven from the guest here";
    case "dma":
      return "dma: the bare-metal guest has no PCI device to issue DMA";
    case "reset":
      return "reset: a machine reset restarts the guest program";
    case "migrate":
      return "migrate: migration needs a second QEMU";
    case "add_phb":
      return "internal: add_phb is configuration";
  }
}

const U64_LIMIT = 1n << 64n;
/** The only bus offsets QEMU gives windows: the 32-bit window's and the 64-bit one. */
const WINDOW_BASES = [0n, DMA64_WINDOW_ADDR];
const MARKER = 0x7ee0_0000_0003n;

const get = (liobn: bigint, ioba: bigint, saveValue = false): GuestCall => ({
  kind: "hcall",
  opcode: H_GET_TCE,
  args: [liobn, ioba],
  saveValue,
});
const put = (liobn: bigint, ioba: bigint, tce: bigint): GuestCall => ({ kind: "hcall", opcode: H_PUT_TCE, args: [liobn, ioba, tce] });
const succeeded = (o: Outcome | undefined) => o?.kind === "hcall" && o.code === "H_SUCCESS";
const valueOf = (o: Outcome | undefined) => (o?.kind === "hcall" ? o.value : undefined);

/**
 * table(T) size S page P [offset O], read by the guest: the window starts at B, its last byte is
 * at B+S-1 and B+S is outside; a marker put at B is read back at B+P-1 but not at B+P; then the
 * entry at B gets its old value back. Every candidate base is probed; the first that holds a
 * window is the answer.
 */
function geometryProbe(liobn: bigint, size: bigint, page: bigint, offset: bigint | undefined, withOffset: boolean): PlannedStep {
  const bases = offset === undefined ? WINDOW_BASES : [offset];
  const groups = bases.map((base) => {
    const calls = [get(liobn, base, true), get(liobn, base + size - 1n)];
    const past = base + size < U64_LIMIT;
    if (past) calls.push(get(liobn, base + size));
    calls.push(put(liobn, base, MARKER), get(liobn, base + page - 1n));
    const nextPage = page < size;
    if (nextPage) calls.push(get(liobn, base + page));
    calls.push({ kind: "hcall", opcode: H_PUT_TCE, args: [liobn, base, 0n], savedAsArg: 2 });
    return { base, calls, past, nextPage };
  });
  return {
    calls: groups.flatMap((g) => g.calls),
    read: (outcomes) => {
      let at = 0;
      for (const g of groups) {
        const o = outcomes.slice(at, at + g.calls.length);
        at += g.calls.length;
        if (!succeeded(o[0])) continue;
        let i = 1;
        const end = o[i++];
        const beyond = g.past ? o[i++] : undefined;
        i++; // the marker put
        const samePage = o[i++];
        const otherPage = g.nextPage ? o[i++] : undefined;
        if (!succeeded(end)) return `a window at ${hex(g.base)} smaller than ${geometry(size, page)}`;
        if (succeeded(beyond)) return `a window at ${hex(g.base)} larger than ${geometry(size, page)}`;
        if (valueOf(samePage) !== MARKER)
          return `a window at ${hex(g.base)} with pages smaller than ${geometry(0n, page).replace("size 0 ", "")}`;
        if (otherPage && valueOf(otherPage) === MARKER)
          return `a window at ${hex(g.base)} with pages larger than ${geometry(0n, page).replace("size 0 ", "")}`;
        return geometry(size, page, withOffset ? g.base : undefined);
      }
      return "absent";
    },
  };
}

function probeStep(probe: Exclude<Probe, { kind: "operation" }>, phbs: Map<number, PhbConfig>, expected: string): PlannedStep | string {
  switch (probe.kind) {
    case "guest":
      return {
        calls: [get(probe.liobn, probe.ioba)],
        read: ([o]) => (succeeded(o) ? hex(valueOf(o) ?? 0n) : `no entry (${o?.kind === "hcall" ? o.code : "?"})`),
      };
    case "windows": {
      if (phbs.get(probe.phbIndex)?.ddw === false) return "windows(…) on a PHB with ddw off: RTAS query is refused there";
      return {
        calls: [{ kind: "rtas", token: RTAS_TOKENS.query, args: buidArgs(probe.phbIndex), nret: 5 }],
        read: ([o]) =>
          o?.kind === "rtas" && o.free !== undefined ? String(2 - o.free) : `query failed (${o?.kind === "rtas" ? o.code : "?"})`,
      };
    }
    case "placement":
      // Under TCG every table lives in userspace: the question is only whether the window exists.
      return {
        calls: WINDOW_BASES.map((base) => get(probe.liobn, base)),
        read: (outcomes) => (outcomes.some(succeeded) ? "userspace" : "absent"),
      };
    case "geometry": {
      const match = /^size (\S+) page (\S+)(?: offset (\S+))?$/.exec(expected);
      if (!match) return "table(…) geometry: internal: unreadable expectation";
      return geometryProbe(
        probe.liobn,
        parseSize(match[1]!),
        parseSize(match[2]!),
        match[3] === undefined ? undefined : BigInt(match[3]),
        probe.withOffset,
      );
    }
    case "hw-entry":
    case "hw-state":
      return "hw(…): there is no vfio-pci device, so no hardware table";
    case "vfio":
      return "vfio(…): there is no vfio-pci device here";
    case "notifiers":
      return "notifiers(…): IOMMU notifiers are not visible to the guest";
  }
}

function phbArgs(phbs: PhbConfig[]): string[] | string {
  const args: string[] = [];
  for (const phb of phbs) {
    if (phb.pageShift !== 12) return `phb ${phb.name} page ${1n << BigInt(phb.pageShift)}: QEMU's default window always uses 4K pages`;
    const props = `dma_win_size=${phb.dma32},ddw=${phb.ddw ? "on" : "off"}`;
    // PHB 0 is the machine's own; its properties come from -global (a -device would collide).
    if (phb.index === 0) {
      if (phb.dma32 !== DEFAULT_DMA32) args.push("-global", `spapr-pci-host-bridge.dma_win_size=${phb.dma32}`);
      if (!phb.ddw) args.push("-global", "spapr-pci-host-bridge.ddw=off");
    } else args.push("-device", `spapr-pci-host-bridge,index=${phb.index},${props}`);
  }
  return args;
}

/** The plan for one spec under one profile, mirroring the evaluator's order exactly. */
export function planFor(spec: CompiledSpec, profile: ProfileName): QemuPlan | { unsupported: string } {
  if (spec.machine.accel === "kvm") return { unsupported: "machine kvm: this backend runs QEMU under TCG, without KVM" };
  const phbs = new Map<number, PhbConfig>();
  const steps: PlannedStep[] = [];
  for (const step of spec.steps) {
    if (step.kind === "do" && step.operation.kind === "add_phb") {
      phbs.set(step.operation.phb.index, step.operation.phb);
      continue;
    }
    if (step.kind === "expect" && step.when && !step.when.includes(profile)) continue;
    let planned: PlannedStep | string;
    if (step.kind === "expect" && step.probe.kind !== "operation") planned = probeStep(step.probe, phbs, step.expected.text);
    else {
      const call = callFor(step.kind === "do" ? step.operation : (step.probe as { operation: Operation }).operation);
      planned = typeof call === "string" ? call : { calls: [call], read: ([o]) => o! };
    }
    if (typeof planned === "string") return { unsupported: `line ${step.line}: ${planned}` };
    steps.push(planned);
  }
  const args = phbArgs([...phbs.values()]);
  if (typeof args === "string") return { unsupported: args };
  return { steps, args };
}
