// What a real target's host cannot give a spec, said before anything runs: each is a reason the
// run is unsupported there, with what was seen when it was tried (MachineTraits says the numbers).
import type { CompiledSpec } from "../../compile/program.js";
import type { Operation, PhbConfig } from "../../engine/types.js";
import { geometry, hex, size } from "../../values.js";
import { createdWindowBase } from "../../papr.js";
import type { EduDevice } from "../guest/guest.js";
import type { VfioProbes } from "../guest/vfio-probe.js";
import type { MachineTraits } from "./traits.js";

type Window = { windowSize: bigint; pageSize: bigint };

/**
 * Why QEMU keeps a new table in userspace rather than KVM (kvmppc_create_spapr_tce's limits,
 * Machine.canLiveInKvm), if it does: the table is then QEMU's own memory.
 */
function inUserspace(spec: CompiledSpec, base: bigint, windowSize: bigint): string | undefined {
  const caps = spec.machine.caps;
  if (spec.machine.accel !== "kvm") return "machine tcg";
  if (!caps.includes("spapr_tce")) return "no spapr_tce";
  if (!caps.includes("spapr_tce_64") && (base !== 0n || windowSize >= 1n << 32n)) return "a window KVM cannot hold without spapr_tce_64";
  return undefined;
}

const tooLarge = (most: bigint) => `the host kernel gives a vfio-pci device windows of ${most} entries at most (one-level TCE tables)`;

/** Why the host cannot carry out this operation on the machine as it stands (before it), if so. */
export function hostLimits(
  operation: Operation,
  spec: CompiledSpec,
  traits: MachineTraits,
  probes: VfioProbes,
  devices: ReadonlyMap<string, EduDevice>,
  phbs: ReadonlyMap<number, PhbConfig>,
): string[] {
  const limits: string[] = [];
  const vfioOn = (phbIndex: number) => [...devices.values()].some((d) => d.vfio && d.phbIndex === phbIndex);
  // A table in userspace is QEMU's own memory (8 bytes an entry).
  const entries = traits.userspaceTableEntries;
  if (entries !== undefined && operation.kind === "create_window" && operation.windowSize / operation.pageSize > entries) {
    const base = createdWindowBase(probes.windowCount(operation.phbIndex));
    const why = inUserspace(spec, base, operation.windowSize);
    if (why)
      limits.push(
        `create_window of ${operation.windowSize / operation.pageSize} entries in userspace (${why}): QEMU here can allocate ${entries} at most (${hex(entries * 8n)} bytes; L1 has 4 GiB)`,
      );
  }
  // A vfio-pci device's window at bus 0.
  const atZero = traits.vfioWindowAtZero;
  if (atZero && traits.vfio > 0) {
    const fits = (w: Window) => w.pageSize === atZero.pageSize && w.windowSize <= atZero.windowSize;
    const refused = (w: Window) =>
      `a vfio-pci device next to a window at bus 0 of ${geometry(w.windowSize, w.pageSize)}: the host kernel gives one at 0 only within its own default window (${geometry(atZero.windowSize, atZero.pageSize)}), and QEMU stops ("Host doesn't support DMA window at 0", or a hardware error)`;
    if (operation.kind === "plug" && operation.device === "vfio") {
      const zero = probes.windowAtZero(operation.phbIndex);
      if (zero && !fits(zero)) limits.push(`plug vfio: ${refused(zero)}`);
    }
    // A window created while the PHB has none is at bus 0.
    if (operation.kind === "create_window" && vfioOn(operation.phbIndex) && probes.windowCount(operation.phbIndex) === 0) {
      const created = { windowSize: operation.windowSize, pageSize: operation.pageSize };
      if (!fits(created)) limits.push(`create_window: ${refused(created)}`);
    }
    // A reset brings the default window back.
    if (operation.kind === "reset" || operation.kind === "reset_windows")
      for (const phb of phbs.values()) {
        const restored = { windowSize: phb.dma32, pageSize: 0x1000n };
        if ((operation.kind === "reset" || operation.phbIndex === phb.index) && vfioOn(phb.index) && !fits(restored)) limits.push(`${operation.kind}: ${refused(restored)}`);
      }
  }
  // Devices of one PHB, in one IOMMU group.
  const perPhb = traits.vfioPerPhb;
  if (perPhb !== undefined && operation.kind === "plug" && operation.device === "vfio") {
    const here = [...devices.values()].filter((d) => d.vfio && d.phbIndex === operation.phbIndex).length;
    if (here >= perPhb)
      limits.push(
        `plug vfio: a PHB here has ${perPhb} vfio-pci devices of one IOMMU group at most (the host's), and a device of another group would get a container and a notifier of its own`,
      );
  }
  // A vfio-pci device's windows are one-level tables, of the host's pages.
  const most = traits.vfioWindowEntries;
  const hostPage = traits.vfioHostPage;
  if (most !== undefined && traits.vfio > 0 && operation.kind === "create_window" && vfioOn(operation.phbIndex)) {
    const page = hostPage !== undefined && operation.pageSize > hostPage ? hostPage : operation.pageSize;
    const entries = operation.windowSize / page;
    const backed = page !== operation.pageSize ? ` (its ${size(operation.pageSize)} pages backed by ${size(page)} ones there)` : "";
    if (entries > most) limits.push(`create_window of ${entries} entries in the host's window${backed} with a vfio-pci device on the PHB: ${tooLarge(most)}`);
  }
  if (most !== undefined && traits.vfio > 0 && operation.kind === "plug" && operation.device === "vfio" && probes.largestWindow(operation.phbIndex, hostPage) > most)
    limits.push(`plug vfio on a PHB with a window of ${probes.largestWindow(operation.phbIndex, hostPage)} entries in the host's window: ${tooLarge(most)}`);
  return limits;
}
