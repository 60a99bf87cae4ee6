// What a real target is, for the planner and the judge: its traits (what it can run, how it
// observes), the steps a plan is made of, and what the host saw at a mark.
import type { KernelRulesName } from "../../engine/kvm.js";
import type { HostName } from "../../profile-names.js";
import type { CompiledSpec } from "../../compile/program.js";
import { compileSource } from "../../compile/index.js";
import type { Outcome } from "../../engine/types.js";
import type { GuestCall } from "../guest/guest.js";
import type { ProbeAnswer } from "../guest/vfio-probe.js";

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

/** A probe's value with what it saw beside it (the expectation's note): how much it looked at, where it differed. */
export interface Noted {
  answer: string;
  note: string;
}

/** The guest calls one step needs, and how their answers read as the step's outcome or value (with a note). */
export interface PlannedStep {
  calls: GuestCall[];
  read: (answers: Answer[]) => Outcome | string | Noted;
  /** The spec statement it serves (the planner sets it): where a crash during it is reported. */
  at?: { line: number; column: number };
}

export interface GuestPlan {
  steps: PlannedStep[];
  /** The host kernel rules the run stands for (`when kernel …`), when not the profile's. */
  kernel?: KernelRulesName;
  /** The host the run stands for (`when host …`), when not pseries. */
  host?: HostName;
  /** QEMU options for the spec's PHBs. */
  args: string[];
  /**
   * Why the host cannot be trusted after this guest, if the model says so: its kernel wrote past a
   * TCE table into memory that is not the table's. A launcher that reuses a host for the next guest
   * starts a fresh one instead (seen: a later guest's host crashed in unrelated code).
   */
  spoilsHost?: string;
}

/** What differs between the machines a guest runs on: how a table's placement is observed. */
export interface MachineTraits {
  /** The host kernel rules its runs stand for (a kernel build's, --kernel-rules), when not the profile's. */
  kernelRules?: KernelRulesName;
  /** The host whose KVM and IOMMU its runs stand for (`when host …`): pseries when not said. */
  host?: HostName;
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
  /**
   * The largest IOMMU page the host's window of a vfio-pci device gets (no limit: undefined): QEMU
   * backs a guest's larger page with pages of its own RAM's size (vfio_spapr_create_window,
   * qemu_minrampagesize: L1's 64K), so `vfioWindowEntries` counts those (seen: a 1T window of 16M
   * pages is 2^24 entries in L1's window, and QEMU 7.2 stopped with a hardware error).
   */
  vfioHostPage?: bigint;
  /**
   * The most vfio-pci devices one of the guest's PHBs can have here (no limit: undefined): where
   * the model's host puts a PHB's devices in one IOMMU group (pseries), as many as the host has of
   * one group. A device of another group gets a container and a notifier of its own on pseries
   * (found by explore: three devices on one PHB, two notifiers on its table).
   */
  vfioPerPhb?: number;
  /** The IOMMU group of each of the host's vfio-pci devices, in order (the planner places each plug: pickHost). */
  vfioGroups?: readonly number[];
  /**
   * How long a DMA of the host's vfio-pci devices (edu devices L0 emulates) takes, in ms of L0's
   * clock, where L0 was told (tcespec's L0 build: `tcespec kvm setup --fast-dma`); edu's own 100
   * ms where not said. The guest waits that long before it looks.
   */
  vfioDmaMs?: number;
  /**
   * The only windows at bus offset 0 a vfio-pci device can be given here (no limit: undefined):
   * Linux 6.12 as a pseries guest (L1) gives one at 0 only within its own default window (1 GiB of
   * 4 KiB pages); any other and QEMU stops: "Host doesn't support DMA window at 0, must be
   * 800000000000000" (seen with QEMU 7.2 in L1: 2G of 4K, 1G of 64K).
   */
  vfioWindowAtZero?: { windowSize: bigint; pageSize: bigint };
  /**
   * The most entries a table QEMU holds in userspace may have here (no limit: undefined): QEMU
   * allocates 8 bytes an entry. In L1 (4 GiB) 2^28 entries work and 2^29 fail ("GLib: failed to
   * allocate 4294967296 bytes").
   */
  userspaceTableEntries?: bigint;
  /** The most RAM a guest can have here (no limit: undefined). */
  maxGuestRam?: bigint;
}

/** An answer read as a hypercall's: whether it succeeded, its value, its code. */
export const succeeded = (o: Answer | undefined) => o !== undefined && "kind" in o && o.kind === "hcall" && o.code === "H_SUCCESS";
export const valueOf = (o: Answer | undefined) => (o !== undefined && "kind" in o && o.kind === "hcall" ? o.value : undefined);
export const codeOf = (o: Answer | undefined) => (o !== undefined && "kind" in o && (o.kind === "hcall" || o.kind === "rtas") ? o.code : "?");

/** Whether a target runs a minimal spec on this machine (`tcg` or `kvm`), with or without a vfio-pci device: its `refuse` says. */
export function runsMachine(traits: MachineTraits, accel: "tcg" | "kvm", vfio = false): boolean {
  const spec = compileSource("traits.tce", `machine ${accel}\nphb phb0 index 0\n${vfio ? "plug vfio d0 on phb0\n" : ""}`).program?.specs[0];
  return spec !== undefined && traits.refuse(spec) === undefined;
}
