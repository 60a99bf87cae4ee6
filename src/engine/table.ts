// One TCE table: a DMA window's geometry, its guest view (sparse), where that view lives,
// vfio's notifier on it and, while a vfio-pci device sits on the PHB, the hardware table.
import { TCE_RW } from "./types.js";

export type Placement = "kvm" | "userspace";

export class TceTable {
  /** Guest view entries by index; only non-zero entries are stored (a 1 TiB window costs what it maps). */
  readonly entries = new Map<number, bigint>();
  placement: Placement = "userspace";
  /** The host IOMMU's table, fed by map/unmap; undefined while no vfio-pci device is on the PHB. */
  hardware: Map<number, bigint> | undefined;

  /**
   * vfio's IOMMU notifier is registered (spapr_tce_notify_flag_changed): exactly while the hardware
   * table exists. QEMU 2.7 and later keep the same fact as need_vfio.
   */
  get notifier(): boolean {
    return this.hardware !== undefined;
  }

  constructor(
    readonly liobn: bigint,
    readonly window: number,
    readonly busOffset: bigint,
    readonly pageShift: number,
    readonly entryCount: bigint,
  ) {}

  get pageSize(): bigint {
    return 1n << BigInt(this.pageShift);
  }
  get pageMask(): bigint {
    return ~(this.pageSize - 1n) & 0xffff_ffff_ffff_ffffn;
  }
  get windowSize(): bigint {
    return this.entryCount << BigInt(this.pageShift);
  }

  /** The entry index of an IOBA, or undefined outside the window (unsigned arithmetic, as QEMU does it). */
  indexOf(ioba: bigint): number | undefined {
    if (ioba < this.busOffset) return undefined;
    const index = (ioba - this.busOffset) >> BigInt(this.pageShift);
    return index < this.entryCount ? Number(index) : undefined;
  }

  get(index: number): bigint {
    return this.entries.get(index) ?? 0n;
  }

  set(index: number, tce: bigint): void {
    if (tce === 0n) this.entries.delete(index);
    else this.entries.set(index, tce);
  }

  /** What the host IOMMU holds for a TCE: the page address and the permission bits, or nothing. */
  hardwareEntry(tce: bigint): bigint | undefined {
    const permission = tce & TCE_RW;
    return permission === 0n ? undefined : (tce & this.pageMask) | permission;
  }

  /** vfio's notifier: an unmap of the old translation, a map of the new one when it grants a permission. */
  notify(index: number, tce: bigint): void {
    if (!this.hardware) return;
    const mapped = this.hardwareEntry(tce);
    if (mapped === undefined) this.hardware.delete(index);
    else this.hardware.set(index, mapped);
  }

  /** memory_region_iommu_replay: walks mapped entries only. */
  replayIntoHardware(): void {
    const hardware = new Map<number, bigint>();
    for (const [index, tce] of this.entries) {
      const mapped = this.hardwareEntry(tce);
      if (mapped !== undefined) hardware.set(index, mapped);
    }
    this.hardware = hardware;
  }

  /** The hardware table equals the guest view, entry by entry (mapped entries only). */
  inSync(): boolean {
    if (!this.hardware) return false;
    let mappedInGuest = 0;
    for (const [index, tce] of this.entries) {
      const mapped = this.hardwareEntry(tce);
      if (mapped === undefined) continue;
      mappedInGuest++;
      if (this.hardware.get(index) !== mapped) return false;
    }
    return mappedInGuest === this.hardware.size;
  }
}
