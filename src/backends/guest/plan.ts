// A compiled spec as a real machine runs it. The evaluator walks the spec twice: once against
// a planner that turns each operation and probe into guest calls (and the PHBs into QEMU
// options), and once, after the machine ran, against the answers the guest printed. So the
// order of the calls, the `when` skips and the bare actions are the evaluator's, on every backend.
import type { CompiledSpec, Probe } from "../../compile/program.js";
import type { Pos } from "../../compile/ast.js";
import type { Operation, Outcome, PhbConfig, ProfileName } from "../../engine/types.js";
import { buidOf, DEFAULT_DMA32, DMA64_WINDOW_ADDR, HCALL_RC, RTAS_STATUS, TCE_READ, TCE_RW, TCE_WRITE, type HcallRc, type RtasStatus } from "../../engine/types.js";
import { geometry, hex, log2 } from "../../values.js";
import { evaluate, type Target } from "../../verdict/evaluate.js";
import type { RunResult } from "../../verdict/outcome.js";
import { BEGIN_MARKER, H_GET_TCE, H_PUT_TCE, linesOf, MARK, type EduDevice, type GuestCall } from "./guest.js";
import { entryFrom, GUEST_RAM, VfioProbes, type ProbeAnswer } from "./vfio-probe.js";
import { unreachable } from "../../unreachable.js";

export const H_STUFF_TCE = 0x138n;
export const H_PUT_TCE_INDIRECT = 0x13cn;
/** RTAS tokens of QEMU 7.2 (RTAS_TOKEN_BASE 0x2000 plus each call's number, include/hw/ppc/spapr.h). */
export const RTAS_TOKENS = { setIndicator: 0x201an, query: 0x2026n, create: 0x2027n, remove: 0x2028n, reset: 0x2029n } as const;

/**
 * The DR isolation indicator (set-indicator type 9001) of a PCI slot's connector, set to isolated
 * (0). A PCI DRC's index is its type (PCI: 4, shifted 28) over the PHB's index, the bus's chassis
 * (0 for the root bus) and the devfn (spapr_drc_index, drc_id_from_devfn).
 */
const DR_ISOLATION_STATE = 9001n;
const drcIndex = (device: EduDevice) => (4n << 28n) | (BigInt(device.phbIndex) << 16n) | (BigInt(device.slot) << 3n);

/**
 * The guest lets go of a device's slot before the host unplugs it. A device hotplugged into a
 * machine since its last reset has a DRC in "power on", and device_del releases it at once; a reset
 * makes it "configured" (spapr_drc_reset: as if coldplugged), and then device_del waits for the
 * guest to isolate it. Isolating a "configured" DRC makes it "power on"; one in "power on" already
 * is left as it is (drc_isolate_physical): so the guest always isolates first.
 */
export function isolateCall(device: EduDevice): GuestCall {
  return { kind: "rtas", token: RTAS_TOKENS.setIndicator, args: [DR_ISOLATION_STATE, drcIndex(device), 0n], nret: 1 };
}


/** A translation QEMU's IOMMU made for a device (its `spapr_iommu_xlate` trace). */
export interface Xlate {
  liobn: bigint;
  /** The IOBA less the window's bus offset. */
  offset: bigint;
  /** The page's address and the mask of the offset in the page. */
  page: bigint;
  mask: bigint;
  /** IOMMU_RO 1, IOMMU_WO 2. */
  perm: number;
}

/**
 * What the host saw at a mark: the LIOBNs whose tables KVM holds, the translations since the last
 * mark, the PHBs with a vfio-pci device, and vfio's IOMMU notifiers: by the bus offset of the
 * window they listen to (QEMU 7.2's trace), or by LIOBN (QEMU 10.0's names the region).
 */
export interface HostView {
  kvmTables: ReadonlySet<bigint>;
  xlates: readonly Xlate[];
  vfioPhbs: ReadonlySet<number>;
  notifiers: { byBase: ReadonlyMap<bigint, number>; byLiobn: ReadonlyMap<bigint, number> };
}

/** A call's answer: what the guest printed, at a mark what the host saw, or a vfio-pci DMA probe's result line. */
export type Answer = Outcome | HostView | ProbeAnswer;

/** The guest calls one step needs, and how their answers read as the step's outcome or value. */
export interface PlannedStep {
  calls: GuestCall[];
  read: (answers: Answer[]) => Outcome | string;
}

export interface GuestPlan {
  steps: PlannedStep[];
  /** QEMU options for the spec's PHBs. */
  args: string[];
}

/** What differs between the machines a guest runs on: how a table's placement is observed. */
export interface MachineTraits {
  /** Why this backend cannot run the spec at all, if it cannot. */
  refuse(spec: CompiledSpec): string | undefined;
  placement(liobn: bigint): PlannedStep;
  /** The host can reset, or migrate, the machine at a step, or unplug an emulated device (a vfio-pci one goes with `vfio`). */
  hostSteps: { reset: boolean; migrate: boolean; unplug: boolean };
  /** The host can hotplug emulated devices (QEMU's edu), and DMA is observed. */
  devices: boolean;
  /**
   * How an emulated device's DMA is seen: in QEMU's trace of its translations, or by a probe in
   * guest memory (vfio-probe.ts; a vfio-pci device's always is). Under KVM the trace cannot be
   * used next to a vfio-pci device: its plug translates the whole window, one trace line per
   * entry, faster than L1's console carries them.
   */
  dma: "trace" | "probe";
  /** How many vfio-pci devices the host can hotplug and unplug (0: none); it says at a mark which PHBs have one. */
  vfio: number;
  /**
   * The host counts vfio's IOMMU notifiers from QEMU's trace (NOTIFIER_TRACES): "by-window" where
   * the trace gives a window's range only (QEMU 7.2), "by-table" where it names the table's region.
   */
  notifiers: false | "by-window" | "by-table";
  /**
   * The most entries a vfio-pci device's DMA window may have on this host (no limit: undefined).
   * Linux 6.12 as a pseries guest (L1) makes one-level TCE tables only, 2^21 entries with its 64K
   * pages; QEMU stops with "Failed to create a window" on a larger one (docs/real-vfio.md).
   */
  vfioWindowEntries?: bigint;
}

/** The DMA's answer from the translation QEMU made for it: where it landed, or a fault. */
function dmaOutcome(view: HostView, access: "read" | "write", ioba: bigint): Outcome {
  const need = access === "read" ? 1 : 2;
  const xlate = view.xlates.find((x) => WINDOW_BASES.some((base) => ioba - base === x.offset));
  if (!xlate || (xlate.perm & need) === 0) return { kind: "dma" };
  return { kind: "dma", address: xlate.page | (ioba & xlate.mask) };
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
        args: [...buidArgs(operation.phbIndex), BigInt(log2(operation.pageSize)), BigInt(log2(operation.windowSize))],
        nret: 4,
      };
    case "remove_window":
      return { kind: "rtas", token: RTAS_TOKENS.remove, args: [operation.liobn], nret: 1 };
    case "reset_windows":
      return { kind: "rtas", token: RTAS_TOKENS.reset, args: buidArgs(operation.phbIndex), nret: 1 };
    case "query_window":
      return { kind: "rtas", token: RTAS_TOKENS.query, args: buidArgs(operation.phbIndex), nret: 5 };
    case "plug":
      return `plug ${operation.device}: this backend does not hotplug ${operation.device === "vfio" ? "a vfio-pci" : "an emulated"} device yet`;
    case "unplug":
      return "unplug: the guest's side of hot-unplug (the DRC protocol) is not driven yet";
    case "dma":
      return "dma: this backend has no such device to make a DMA";
    case "reset":
      return "reset: this backend does not reset the machine at a step yet";
    case "migrate":
      return "migrate: this backend does not migrate the machine at a step yet";
    case "add_phb":
      return "internal: add_phb is configuration";
    default:
      return unreachable(operation);
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
export const succeeded = (o: Answer | undefined) => o !== undefined && "kind" in o && o.kind === "hcall" && o.code === "H_SUCCESS";
/** An object with the key only where the value is defined (outcomes leave absent fields out). */
const pick = <T, K extends keyof T>(from: T, key: K): Partial<Pick<T, K>> => (from[key] === undefined ? {} : ({ [key]: from[key] } as Pick<T, K>));
const valueOf = (o: Answer | undefined) => (o !== undefined && "kind" in o && o.kind === "hcall" ? o.value : undefined);
const codeOf = (o: Answer | undefined) => (o !== undefined && "kind" in o && (o.kind === "hcall" || o.kind === "rtas") ? o.code : "?");

/** The smallest TCE page there is: no table has pages smaller than 4K. */
const SMALLEST_PAGE = 0x1000n;

/**
 * table(T) size S page P [offset O], read by the guest at page-aligned IOBAs only (KVM answers
 * H_PARAMETER to an IOBA not aligned to its table's page; QEMU rounds it down): the window starts
 * at B, its last page at B+S-P is in it and B+S is not; a marker put at B is not read back at B+P
 * (pages not larger than P), and B+P/2 either holds the marker too (QEMU: the same page) or is
 * refused as unaligned (KVM): pages not smaller than P. Then the entry at B gets its old value
 * back. Every candidate base is probed; the first that holds a window is the answer.
 */
function geometryProbe(liobn: bigint, size: bigint, page: bigint, offset: bigint | undefined, withOffset: boolean): PlannedStep {
  const bases = offset === undefined ? WINDOW_BASES : [offset];
  const groups = bases.map((base) => {
    const calls = [get(liobn, base, true), get(liobn, base + size - page)];
    const past = base + size < U64_LIMIT;
    if (past) calls.push(get(liobn, base + size));
    calls.push(put(liobn, base, MARKER));
    const halfPage = page > SMALLEST_PAGE;
    if (halfPage) calls.push(get(liobn, base + page / 2n));
    const nextPage = page < size;
    if (nextPage) calls.push(get(liobn, base + page));
    calls.push({ kind: "hcall", opcode: H_PUT_TCE, args: [liobn, base, 0n], savedAsArg: 2 });
    return { base, calls, past, halfPage, nextPage };
  });
  const pages = (p: bigint) => geometry(0n, p).replace("size 0 ", "");
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
        const half = g.halfPage ? o[i++] : undefined;
        const otherPage = g.nextPage ? o[i++] : undefined;
        if (!succeeded(end))
          return `a window at ${hex(g.base)} smaller than ${geometry(size, page)} (its last page, at ${hex(g.base + size - page)}: ${codeOf(end)})`;
        if (succeeded(beyond)) return `a window at ${hex(g.base)} larger than ${geometry(size, page)}`;
        // A page of its own at B+P/2: the pages are smaller. Refused there (KVM: unaligned) or the marker: not.
        if (half && succeeded(half) && valueOf(half) !== MARKER) return `a window at ${hex(g.base)} with pages smaller than ${pages(page)}`;
        if (otherPage && valueOf(otherPage) === MARKER) return `a window at ${hex(g.base)} with pages larger than ${pages(page)}`;
        if (otherPage && !succeeded(otherPage))
          return `a window at ${hex(g.base)} with pages larger than ${pages(page)} (no entry at ${hex(g.base + page)}: ${codeOf(otherPage)})`;
        return geometry(size, page, withOffset ? g.base : undefined);
      }
      return "absent";
    },
  };
}

function probeStep(probe: Exclude<Probe, { kind: "operation" }>, phbs: Map<number, PhbConfig>, traits: MachineTraits): PlannedStep | string {
  switch (probe.kind) {
    case "guest":
      return {
        calls: [get(probe.liobn, probe.ioba)],
        read: ([o]) => (succeeded(o) ? hex(valueOf(o) ?? 0n) : `no entry (${codeOf(o)})`),
      };
    case "windows": {
      if (phbs.get(probe.phbIndex)?.ddw === false) return "windows(…) on a PHB with ddw off: RTAS query is refused there";
      return {
        calls: [{ kind: "rtas", token: RTAS_TOKENS.query, args: buidArgs(probe.phbIndex), nret: 5 }],
        read: ([o]) =>
          o !== undefined && "kind" in o && o.kind === "rtas" && o.free !== undefined ? String(2 - o.free) : `query failed (${codeOf(o)})`,
      };
    }
    case "placement":
      return traits.placement(probe.liobn);
    case "geometry":
      return geometryProbe(probe.liobn, probe.windowSize, probe.pageSize, probe.offset, probe.withOffset);
    case "hw-entry":
    case "hw-state":
      return "internal: hw(…) is planned with the devices";
    case "vfio":
      if (!traits.vfio) return "vfio(…): there is no vfio-pci device here";
      return { calls: [{ kind: "mark" }], read: ([view]) => ((view as HostView).vfioPhbs.has(probe.phbIndex) ? "yes" : "no") };
    case "notifiers": {
      if (!traits.notifiers) return "notifiers(…): IOMMU notifiers are not visible to the guest";
      if (traits.notifiers === "by-table")
        return { calls: [{ kind: "mark" }], read: ([view]) => String((view as HostView).notifiers.byLiobn.get(probe.liobn) ?? 0) };
      // QEMU puts window 0 at bus offset 0 and window 1 at 2^59; the trace names a window by its range.
      const base = (probe.liobn & 0xffn) === 0n ? 0n : DMA64_WINDOW_ADDR;
      return { calls: [{ kind: "mark" }], read: ([view]) => String((view as HostView).notifiers.byBase.get(base) ?? 0) };
    }
    default:
      return unreachable(probe);
  }
}

/** At most this many IOBAs are probed for `hw(T) in_sync`: each costs two DMA probes. */
const MAX_SYNC_PROBES = 16;

/**
 * hw(T, IOBA) and hw(T) in_sync|absent: the hardware table is read through the PHB's vfio-pci
 * device (see vfio-probe.ts): a read and a write probe at each IOBA. Without a device there is no
 * hardware table, which the host confirms at a mark.
 */
function hardwareStep(
  probe: Extract<Probe, { kind: "hw-entry" | "hw-state" }>,
  devices: ReadonlyMap<string, EduDevice>,
  probes: VfioProbes,
  traits: MachineTraits,
): PlannedStep | string {
  if (!traits.vfio) return "hw(…): there is no vfio-pci device, so no hardware table";
  const phbIndex = Number((probe.liobn >> 8n) & 0xffn);
  const device = [...devices.values()].find((d) => d.vfio && d.phbIndex === phbIndex);
  if (!device)
    return {
      calls: [{ kind: "mark" }],
      read: ([view]) => ((view as HostView).vfioPhbs.has(phbIndex) ? "a vfio-pci device the spec did not plug is on the PHB" : "absent"),
    };
  if (!probes.hasDefaultWindow(phbIndex)) return "hw(…): the probe's scratch entry needs the PHB's default window, which the spec removed";
  const pageSize = probes.pageSizeOf(probe.liobn);
  const probeAt = (ioba: bigint) => [get(probe.liobn, ioba), probes.probe(device, "read", ioba), probes.probe(device, "write", ioba)];
  const entryAt = ([, read, write]: Answer[], call: GuestCall[]) =>
    entryFrom(probes.landing(call[1]!, read as ProbeAnswer), probes.landing(call[2]!, write as ProbeAnswer));
  if (probe.kind === "hw-entry") {
    const calls = probeAt(probe.ioba);
    return {
      calls,
      read: (answers) => {
        if (!succeeded(answers[0])) return "outside the window";
        const entry = entryAt(answers, calls);
        return typeof entry === "string" ? entry : hex(entry);
      },
    };
  }
  const iobas = probes.writtenIn(probe.liobn);
  if (iobas.length > MAX_SYNC_PROBES) return `hw(T) in_sync: the spec wrote ${iobas.length} places in the table; the probes look at ${MAX_SYNC_PROBES} at most`;
  const exists = existenceCalls(probe.liobn);
  const groups = iobas.map(probeAt);
  return {
    calls: [...exists, ...groups.flat()],
    read: (answers) => {
      if (!answers.slice(0, exists.length).some(succeeded)) return "absent";
      const differences: string[] = [];
      groups.forEach((calls, g) => {
        const group = answers.slice(exists.length + g * 3, exists.length + g * 3 + 3);
        const guest = succeeded(group[0]) ? (valueOf(group[0]) ?? 0n) : 0n;
        const permission = guest & TCE_RW;
        const expected = permission === 0n ? 0n : (guest & ~(pageSize - 1n)) | permission;
        // As KVM maps it, or as QEMU's vfio does: readable wherever writable (the model's hw-read-with-write).
        const readable = permission & TCE_WRITE ? expected | TCE_READ : expected;
        const actual = entryAt(group, calls);
        if (actual !== expected && actual !== readable)
          differences.push(`${hex(iobas[g]!)}: ${typeof actual === "string" ? actual : hex(actual)}, the guest view calls for ${hex(expected)}`);
      });
      return differences.length === 0 ? "in_sync" : `out_of_sync (${differences.join("; ")})`;
    },
  };
}

const PHB_ID = (index: number) => `tcespec-phb${index}`;

/** The PCI bus of PHB i: the machine's own PHB 0 has QEMU's pci.0; the others are named by tcespec. */
export function busOf(phbIndex: number): string {
  return phbIndex === 0 ? "pci.0" : `${PHB_ID(phbIndex)}.0`;
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
    } else args.push("-device", `spapr-pci-host-bridge,index=${phb.index},id=${PHB_ID(phb.index)},${props}`);
  }
  return args;
}

/** The window bases a table may have: a placement probe asks each whether a window is there. */
export function existenceCalls(liobn: bigint): GuestCall[] {
  return WINDOW_BASES.map((base) => get(liobn, base));
}

/**
 * The slot a new device takes on its PHB's bus: the lowest from 1 up that no device present there
 * holds (one unplugged earlier leaves its slot free; counting the devices, a plug after unplugging
 * any but the last collided: "slot 2 already occupied").
 */
export function freeSlot(devices: ReadonlyMap<string, EduDevice>, phbIndex: number): number {
  const taken = new Set([...devices.values()].filter((d) => d.phbIndex === phbIndex).map((d) => d.slot));
  let slot = 1;
  while (taken.has(slot)) slot++;
  return slot;
}

/** Operations that configure the machine rather than run in the guest. */
const isConfiguration = (operation: Operation) => operation.kind === "add_phb";

/** The plan for one spec under one profile, in the evaluator's own order. */
export function planFor(spec: CompiledSpec, profile: ProfileName, traits: MachineTraits): GuestPlan | { unsupported: string } {
  const refused = traits.refuse(spec);
  if (refused) return { unsupported: refused };
  const phbs = new Map<number, PhbConfig>();
  const devices = new Map<string, EduDevice>();
  const steps: PlannedStep[] = [];
  const probes = new VfioProbes(phbs);
  const vfioPhbs = new Set<number>();
  let asksNotifiers = false;
  let unsupported: string | undefined;
  const note = (planned: PlannedStep | string, at: Pos) => {
    if (typeof planned === "string") unsupported ??= `line ${at.line}: ${planned}`;
    else steps.push(planned);
  };
  const planner: Target = {
    apply: (operation, at) => {
      probes.note(operation);
      const most = traits.vfioWindowEntries;
      if (most !== undefined && traits.vfio > 0) {
        const vfioOn = (phbIndex: number) => [...devices.values()].some((d) => d.vfio && d.phbIndex === phbIndex);
        const tooLarge = `the host kernel gives a vfio-pci device windows of ${most} entries at most (one-level TCE tables)`;
        if (operation.kind === "create_window" && vfioOn(operation.phbIndex) && operation.windowSize / operation.pageSize > most)
          note(`create_window of ${operation.windowSize / operation.pageSize} entries with a vfio-pci device on the PHB: ${tooLarge}`, at);
        if (operation.kind === "plug" && operation.device === "vfio" && probes.largestWindow(operation.phbIndex) > most)
          note(`plug vfio on a PHB with a window of ${probes.largestWindow(operation.phbIndex)} entries: ${tooLarge}`, at);
      }
      if (operation.kind === "add_phb") phbs.set(operation.phb.index, operation.phb);
      else if ((operation.kind === "reset" || operation.kind === "migrate") && traits.hostSteps[operation.kind]) {
        // Devices are set up again after a reset, and emulated ones after a migration (see GuestCall's `reconfigure`).
        const reconfigure = [...devices.values()].filter((d) => operation.kind === "reset" || !d.vfio);
        note({ calls: [{ kind: "host", action: operation.kind, ...(reconfigure.length > 0 ? { reconfigure } : {}) }], read: ([o]) => o as Outcome }, at);
      }
      else if (operation.kind === "plug" && operation.device === "emulated" && traits.devices) {
        const device = { name: operation.name, phbIndex: operation.phbIndex, slot: freeSlot(devices, operation.phbIndex) };
        devices.set(operation.name, device);
        note({ calls: [{ kind: "plug", device }], read: ([o]) => o as Outcome }, at);
      } else if (operation.kind === "plug" && operation.device === "vfio" && traits.vfio) {
        const plugged = [...devices.values()].filter((d) => d.vfio).length;
        if (plugged >= traits.vfio)
          note(`plug vfio: the host has ${traits.vfio === 1 ? "one vfio-pci device, and it is" : `${traits.vfio} vfio-pci devices, and they are all`} plugged already`, at);
        else {
          const device = { name: operation.name, phbIndex: operation.phbIndex, slot: freeSlot(devices, operation.phbIndex), vfio: true };
          vfioPhbs.add(operation.phbIndex);
          devices.set(operation.name, device);
          note({ calls: [{ kind: "plug", device }], read: ([o]) => o as Outcome }, at);
        }
      } else if (operation.kind === "unplug" && devices.has(operation.name) && (devices.get(operation.name)!.vfio ? traits.vfio > 0 : traits.hostSteps.unplug)) {
        const isolate = isolateCall(devices.get(operation.name)!);
        devices.delete(operation.name);
        note({ calls: [isolate, { kind: "host", action: "unplug", device: operation.name }], read: ([, o]) => o as Outcome }, at);
      } else if (operation.kind === "dma" && devices.has(operation.device) && !devices.get(operation.device)!.vfio && traits.dma === "trace") {
        const { access, ioba } = operation;
        note({ calls: [{ kind: "dma", device: devices.get(operation.device)!, access, ioba }], read: ([view]) => dmaOutcome(view as HostView, access, ioba) }, at);
      }
      else if (operation.kind === "dma" && devices.has(operation.device)) {
        const device = devices.get(operation.device)!;
        if (!probes.hasDefaultWindow(device.phbIndex)) note("dma: the probe's scratch entry needs the PHB's default window, which the spec removed", at);
        else {
          const call = probes.probe(device, operation.access, operation.ioba);
          note({ calls: [call], read: ([answer]) => ({ kind: "dma", ...pick(probes.landing(call, answer as ProbeAnswer), "address") }) }, at);
        }
      } else {
        const call = callFor(operation);
        note(typeof call === "string" ? call : { calls: [call], read: ([o]) => o as Outcome }, at);
      }
      return { kind: "done" };
    },
    observe: (probe, at) => {
      if (probe.kind === "notifiers") asksNotifiers = true;
      note(probe.kind === "hw-entry" || probe.kind === "hw-state" ? hardwareStep(probe, devices, probes, traits) : probeStep(probe, phbs, traits), at);
      return "";
    },
  };
  evaluate(spec, profile, planner, "plan");
  if (unsupported) return { unsupported };
  if (asksNotifiers && traits.notifiers === "by-window" && vfioPhbs.size > 1)
    return { unsupported: "notifiers(…): QEMU 7.2's trace of a notifier names its window's range, not its PHB, and this spec has vfio-pci devices on two PHBs" };
  const args = phbArgs([...phbs.values()]);
  if (typeof args === "string") return { unsupported: args };
  const finished = probes.finish();
  if ("unsupported" in finished) return finished;
  // More guest RAM where a probe's candidates lie above the default.
  if (finished.ram > GUEST_RAM) args.push("-m", `${finished.ram >> 20n}M`);
  return { steps, args };
}

function hcallName(value: bigint): HcallRc {
  const found = Object.entries(HCALL_RC).find(([, v]) => v === value);
  return (found?.[0] ?? `H_UNKNOWN(${value})`) as HcallRc;
}
function rtasName(value: bigint): RtasStatus {
  const found = Object.entries(RTAS_STATUS).find(([, v]) => v === value);
  return (found?.[0] ?? `RTAS_UNKNOWN(${value})`) as RtasStatus;
}

/** Two 64-bit values per line: signed for return codes, unsigned for values. */
function parseLine(line: string): [bigint, bigint] {
  if (!/^[0-9a-f]{32}$/.test(line)) throw new Error(`unreadable guest output line '${line.slice(0, 40)}'`);
  return [BigInt.asIntN(64, BigInt(`0x${line.slice(0, 16)}`)), BigInt(`0x${line.slice(16)}`)];
}

/** What a call answered, in the engine's terms. */
function decode(call: Extract<GuestCall, { kind: "hcall" | "rtas" }>, lines: string[]): Outcome {
  const words = lines.flatMap(parseLine);
  if (call.kind === "hcall") return { kind: "hcall", code: hcallName(words[0]!), value: BigInt.asUintN(64, words[1]!) };
  const code = rtasName(words[0]!);
  if (code !== "RTAS_OK") return { kind: "rtas", code };
  switch (call.token) {
    case RTAS_TOKENS.create:
      return { kind: "rtas", code, liobn: words[1]!, busOffset: (words[2]! << 32n) | words[3]! };
    case RTAS_TOKENS.query:
      return { kind: "rtas", code, free: Number(words[1]!), pageMask: words[3]! };
    default:
      return { kind: "rtas", code };
  }
}

/** What the guest printed (its result lines), what the host saw at each mark, and what each host step answered, in order. */
export interface GuestOutput {
  lines: string[];
  marks: HostView[];
  host: Outcome[];
  /** Host steps that failed, in the host's words. */
  failures?: string[];
}

/** Judges a run from what the machine printed: the evaluator walks the spec again over the answers. */
export function judge(spec: CompiledSpec, profile: ProfileName, plan: GuestPlan, output: GuestOutput, backend: string): RunResult | string {
  const calls = plan.steps.flatMap((step) => step.calls);
  const due = calls.reduce((n, c) => n + linesOf(c), 0);
  // A DMA ends with a mark (what the host saw it translate); a plug is a host step.
  const marksDue = calls.filter((c) => c.kind === "mark" || c.kind === "dma").length;
  const hostDue = calls.filter((c) => c.kind === "host" || c.kind === "plug").length;
  if (output.failures?.length) return `a host step failed: ${output.failures[0]}`;
  if (output.lines.length !== due) return `the guest printed ${output.lines.length} result lines, ${due} were due`;
  if (output.marks.length !== marksDue) return `the host saw ${output.marks.length} marks, ${marksDue} were due`;
  if (output.host.length !== hostDue) return `the host took ${output.host.length} steps, ${hostDue} were due`;
  let line = 0;
  let mark = 0;
  let host = 0;
  const answers = plan.steps.map((step) =>
    step.read(
      step.calls.map((call): Answer => {
        if (call.kind === "mark" || call.kind === "dma") return output.marks[mark++]!;
        if (call.kind === "host" || call.kind === "plug") return output.host[host++]!;
        if (call.kind === "vfio-dma") {
          const words = parseLine(output.lines[line++]!).map((w) => BigInt.asUintN(64, w));
          return { probe: [words[0]!, words[1]!] };
        }
        const outcome = decode(call, output.lines.slice(line, line + linesOf(call)));
        line += linesOf(call);
        return outcome;
      }),
    ),
  );
  let next = 0;
  const take = (): Outcome | string => {
    if (next >= answers.length) throw new Error("internal: the evaluator asked the machine more than the plan holds");
    return answers[next++]!;
  };
  const replay: Target = {
    apply: (operation) => {
      if (isConfiguration(operation)) return { kind: "done" };
      const answer = take();
      if (typeof answer === "string") throw new Error("internal: an operation was planned as a probe");
      return answer;
    },
    observe: () => {
      const answer = take();
      if (typeof answer !== "string") throw new Error("internal: a probe was planned as an operation");
      return answer;
    },
  };
  return evaluate(spec, profile, replay, backend);
}

/** QEMU's trace of a new TCE table (`-trace spapr_iommu_new_table`): fd ≥ 0 is a table KVM holds. */
const NEW_TABLE = /spapr_iommu_new_table liobn=(0x[0-9a-f]+) table=\S+ fd=(-?\d+)/;
export const TABLE_TRACE = "spapr_iommu_new_table";
/** QEMU's trace of each translation for a device: liobn, offset in the window, page, permission, mask. */
const XLATE = /spapr_iommu_xlate liobn=(?:0x)?([0-9a-f]+) 0x([0-9a-f]+) -> 0x([0-9a-f]+) perm=(\d+) mask=(?:0x)?([0-9a-f]+)/;
/** A result line: two 64-bit values in hex. Anything else in the stream is QEMU's (warnings, a device's own prints). */
const RESULT = /^[0-9a-f]{32}$/;
export const XLATE_TRACE = "spapr_iommu_xlate";
/**
 * vfio's listener: it registers an IOMMU notifier for each IOMMU region it is told of (region_add
 * [iommu]) and unregisters it when the region goes. QEMU 7.2 gives the range only, and its
 * region_del is the one RAM sections print too (only a range added as an IOMMU region counts);
 * QEMU 10.0 names the region (tce-iommu-LIOBN) in both, with a region_del of its own.
 */
export const NOTIFIER_TRACES = ["vfio_listener_region_add_iommu", "vfio_listener_region_del*"];
const NOTIFIER_ADD = /vfio_listener_region_add_iommu region_add \[iommu\] (?:tce-iommu-([0-9a-f]+) )?0x([0-9a-f]+) - 0x([0-9a-f]+)/;
const NOTIFIER_DEL = /vfio_listener_region_del region_del 0x([0-9a-f]+) - 0x([0-9a-f]+)/;
const NOTIFIER_DEL_NAMED = /vfio_listener_region_del_iommu region_del \[iommu\] tce-iommu-([0-9a-f]+)/;
/** L1's report of a host step (see kvm/l1.ts). */
const ACT = /^TCESPEC-ACT \d+ (plugged|unplugged|added|reset|migrated|blocked|failed)(?: (\S+))?(?: (\d+))?/;

/**
 * The guest's result lines after its begin marker, and at each mark the tables KVM held then,
 * from the trace lines QEMU wrote into the same stream before it (the default window's table
 * is made before the guest starts, so before the marker).
 */
export function readGuestOutput(text: string, given: Outcome[] = []): GuestOutput {
  const host = [...given];
  const failures: string[] = [];
  const lines: string[] = [];
  const marks: HostView[] = [];
  const kvm = new Set<bigint>();
  const vfio = new Map<string, number>();
  let xlates: Xlate[] = [];
  /** Live notifiers by their range ("start-end", QEMU 7.2) and by LIOBN (QEMU 10.0). */
  const listening = new Map<string, number>();
  const byLiobn = new Map<bigint, number>();
  const count = <K>(map: Map<K, number>, key: K, by: number) => {
    const n = (map.get(key) ?? 0) + by;
    if (n > 0) map.set(key, n);
    else map.delete(key);
  };
  let begun = !text.includes(BEGIN_MARKER);
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.length === 0) continue;
    if (line === BEGIN_MARKER) {
      begun = true;
      continue;
    }
    const table = NEW_TABLE.exec(line);
    const xlate = XLATE.exec(line);
    const act = ACT.exec(line);
    const added = NOTIFIER_ADD.exec(line);
    const deleted = NOTIFIER_DEL.exec(line);
    const deletedNamed = NOTIFIER_DEL_NAMED.exec(line);
    if (added) {
      if (added[1] !== undefined) count(byLiobn, BigInt(`0x${added[1]}`), 1);
      else count(listening, `${added[2]}-${added[3]}`, 1);
    } else if (deletedNamed) count(byLiobn, BigInt(`0x${deletedNamed[1]}`), -1);
    else if (deleted) {
      if (listening.has(`${deleted[1]}-${deleted[2]}`)) count(listening, `${deleted[1]}-${deleted[2]}`, -1);
    } else if (act) {
      // What L1 did at a host step: plugged NAME PHB, unplugged NAME, added NAME, reset, migrated,
      // blocked: why (QEMU refused the migration, an answer), or failed: why (an error).
      const [, what, name, phb] = act;
      if (what === "plugged") vfio.set(name!, Number(phb));
      if (what === "unplugged") vfio.delete(name!);
      // A migration that completed or was refused answers `expect migrate == ok|blocked`.
      host.push(
        what === "failed" || what === "blocked" ? { kind: "migrate", ok: false } : what === "migrated" ? { kind: "migrate", ok: true } : { kind: "done" },
      );
      if (what === "failed") failures.push(line.slice(line.indexOf("failed")));
    } else if (xlate) {
      const [, liobn, offset, page, perm, mask] = xlate;
      xlates.push({ liobn: BigInt(`0x${liobn}`), offset: BigInt(`0x${offset}`), page: BigInt(`0x${page}`), perm: Number(perm), mask: BigInt(`0x${mask}`) });
    } else if (table) {
      if (Number(table[2]) >= 0) kvm.add(BigInt(table[1]!));
      else kvm.delete(BigInt(table[1]!));
    } else if (!begun) continue;
    else if (line === MARK) {
      const byBase = new Map<bigint, number>();
      for (const [range, n] of listening) count(byBase, BigInt(`0x${range.slice(0, range.indexOf("-"))}`), n);
      marks.push({ kvmTables: new Set(kvm), xlates, vfioPhbs: new Set(vfio.values()), notifiers: { byBase, byLiobn: new Map(byLiobn) } });
      xlates = [];
    }
    else if (RESULT.test(line)) lines.push(line);
  }
  return { lines, marks, host, failures };
}
