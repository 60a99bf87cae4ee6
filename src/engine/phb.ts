// A PCI host bridge: its two DMA windows and the devices on it.
import type { DeviceKind, PhbConfig } from "./types.js";
import { liobnOf, MAX_WINDOWS } from "./types.js";
import type { TceTable } from "./table.js";

export class Phb {
  /** Enabled windows by number (0: the default 32-bit window, 1: the DDW window). */
  readonly windows: (TceTable | undefined)[] = new Array(MAX_WINDOWS).fill(undefined);
  readonly devices = new Map<string, DeviceKind>();
  /**
   * The vfio groups of this PHB's devices that QEMU gave a TCE table through the KVM-VFIO device
   * (KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE): the PHB's one group on a pseries host, each device's own on
   * a PowerNV one (the machine's host says which).
   */
  readonly attachedGroups = new Set<string>();

  constructor(readonly config: PhbConfig) {}

  get index(): number {
    return this.config.index;
  }

  /** has_vfio: at least one vfio-pci device sits on this PHB. */
  get hasVfio(): boolean {
    for (const kind of this.devices.values()) if (kind === "vfio") return true;
    return false;
  }

  liobn(window: number): bigint {
    return liobnOf(this.index, window);
  }

  enabledTables(): TceTable[] {
    return this.windows.filter((t): t is TceTable => t !== undefined);
  }

  /** The window a PHB4 picks for an IOBA by its bit 59 (the TVE select), in range or not. */
  tableByTve(ioba: bigint): TceTable | undefined {
    return this.enabledTables().find((t) => ((t.busOffset >> 59n) & 1n) === ((ioba >> 59n) & 1n));
  }

  /** The window whose range holds this IOBA, if any. */
  tableFor(ioba: bigint): TceTable | undefined {
    return this.enabledTables().find((t) => t.indexOf(ioba) !== undefined);
  }
}
