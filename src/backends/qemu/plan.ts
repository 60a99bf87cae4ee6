// A compiled spec as the real machine can run it: the guest calls in evaluation order, the
// QEMU command line for its PHBs, or the reason the spec cannot run on QEMU here.
import type { CompiledSpec, Probe } from "../../compile/program.js";
import type { Operation, PhbConfig, ProfileName } from "../../engine/types.js";
import { buidOf } from "../../engine/types.js";
import type { GuestCall } from "./guest.js";

export const H_GET_TCE = 0x1cn;
export const H_PUT_TCE = 0x20n;
export const H_STUFF_TCE = 0x138n;
export const H_PUT_TCE_INDIRECT = 0x13cn;
/** RTAS tokens of QEMU 7.2. */
export const RTAS_TOKENS = { query: 0x2026n, create: 0x2027n, remove: 0x2028n, reset: 0x2029n } as const;

const DEFAULT_DMA32 = 1n << 30n;

export interface QemuPlan {
  calls: GuestCall[];
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
      return { kind: "rtas", token: RTAS_TOKENS.create, args: [...buidArgs(operation.phbIndex), log2(operation.pageSize), log2(operation.windowSize)], nret: 4 };
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

function probeCall(probe: Exclude<Probe, { kind: "operation" }>, phbs: Map<number, PhbConfig>): GuestCall | string {
  switch (probe.kind) {
    case "guest":
      return { kind: "hcall", opcode: H_GET_TCE, args: [probe.liobn, probe.ioba] };
    case "windows": {
      if (phbs.get(probe.phbIndex)?.ddw === false) return "windows(…) on a PHB with ddw off: RTAS query is refused there";
      return { kind: "rtas", token: RTAS_TOKENS.query, args: buidArgs(probe.phbIndex), nret: 5 };
    }
    case "placement":
      return "table(…) kvm|userspace|absent: where the table lives is not visible to the guest";
    case "geometry":
      return "table(…) size … page …: the window's geometry is not visible to the guest";
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
  const calls: GuestCall[] = [];
  for (const step of spec.steps) {
    if (step.kind === "do" && step.operation.kind === "add_phb") {
      phbs.set(step.operation.phb.index, step.operation.phb);
      continue;
    }
    if (step.kind === "expect" && step.when && !step.when.includes(profile)) continue;
    const call = step.kind === "do" ? callFor(step.operation) : step.probe.kind === "operation" ? callFor(step.probe.operation) : probeCall(step.probe, phbs);
    if (typeof call === "string") return { unsupported: `line ${step.line}: ${call}` };
    calls.push(call);
  }
  const args = phbArgs([...phbs.values()]);
  if (typeof args === "string") return { unsupported: args };
  return { calls, args };
}
