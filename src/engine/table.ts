// One TCE table: a DMA window's geometry, its guest view (sparse), where that view lives,
// vfio's notifier on it and, while a vfio-pci device sits on the PHB, the hardware table.
import { TCE_RW, TCE_WRITE, type PictureRow } from "./types.js";
import { RunMap } from "./runs.js";

export type Placement = "kvm" | "userspace";

export class TceTable {
  /** Guest view entries as runs of one value; zero is unmapped (a 1 TiB window costs what it maps). */
  readonly entries = new RunMap();
  placement: Placement = "userspace";
  /** The host IOMMU's table, fed by map/unmap; undefined while no vfio-pci device is on the PHB. */
  hardware: RunMap | undefined;

  /**
   * vfio's IOMMU notifier is registered (spapr_tce_notify_flag_changed). QEMU 2.7 and later keep
   * the same fact as need_vfio. Usually exactly while the hardware table exists; QEMU 7.2 can make
   * the hardware window and never listen (see Profile.vfioListens).
   */
  private listening = false;
  get notifier(): boolean {
    return this.listening;
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
    this.entries.set(index, tce);
  }

  /** Entries [index, index + count) hold tce. */
  setRange(index: number, count: number, tce: bigint): void {
    this.entries.setRange(index, count, tce);
  }

  /**
   * What the host IOMMU holds for a TCE: the page address and the permission bits, or nothing.
   * Mapped by QEMU's vfio (`byQemu`, its notifier and replay), read comes with write: vfio_dma_map
   * always sets VFIO_DMA_MAP_FLAG_READ and adds WRITE unless the entry is read-only. KVM's own
   * maps (kvmppc_tce_iommu_map) keep the TCE's direction. Both seen on real KVM: a write-only TCE
   * lets the passed-through device read after QEMU mapped it, not after KVM did
   * (specs/hotplug/real-vfio.tce, specs/hotplug/kvm-keeps-hw.tce).
   */
  hardwareEntry(tce: bigint, readWithWrite = true): bigint | undefined {
    const permission = tce & TCE_RW;
    if (permission === 0n) return undefined;
    return (tce & this.pageMask) | (readWithWrite && permission & TCE_WRITE ? TCE_RW : permission);
  }

  /** A hardware entry maps what a guest entry says, as either QEMU or KVM maps it. */
  private agrees(guest: bigint, hw: bigint): boolean {
    return hw === (this.hardwareEntry(guest) ?? 0n) || hw === (this.hardwareEntry(guest, false) ?? 0n);
  }

  /** vfio's notifier (or KVM, `byQemu` false) for entries [index, index + count): unmap the old translation, map the new one when it grants a permission. */
  notify(index: number, tce: bigint, count = 1, byQemu = true, readWithWrite = byQemu): void {
    if (byQemu && !this.listening) return;
    this.hardware?.setRange(index, count, this.hardwareEntry(tce, readWithWrite) ?? 0n);
  }

  /** The host cleared the hardware table under the device (host.ts: groupPerDevice); QEMU's view and notifier stay. */
  clearHardware(): void {
    if (this.hardware) this.hardware = new RunMap();
  }

  /** The hardware table the guest view calls for: its mapped runs, translated. */
  private expectedHardware(): RunMap {
    const hardware = new RunMap();
    for (const [start, count, tce] of this.entries.runs()) {
      const mapped = this.hardwareEntry(tce);
      if (mapped !== undefined) hardware.setRange(start, count, mapped);
    }
    return hardware;
  }

  /** memory_region_iommu_replay: walks mapped entries only. */
  replayIntoHardware(): void {
    this.hardware = this.expectedHardware();
    this.listening = true;
  }

  /** vfio made the host's window for this table but does not listen to it: it stays empty. */
  hardwareWithoutListener(): void {
    this.hardware = new RunMap();
    this.listening = false;
  }

  /** The device is gone: no hardware table, no notifier. */
  dropHardware(): void {
    this.hardware = undefined;
    this.listening = false;
  }

  /**
   * The table's mapped stretches, guest view next to hardware table, at most `limit` of them (the
   * ones where the two differ first). For a picture of the state, not for deciding anything.
   */
  picture(limit: number): { rows: PictureRow[]; more: number } {
    const cuts = new Set<number>();
    for (const map of [this.entries, this.hardware]) {
      for (const [start, count] of map?.runs() ?? []) cuts.add(start).add(start + count);
    }
    const points = [...cuts].sort((a, b) => a - b);
    const rows: PictureRow[] = [];
    for (let k = 0; k + 1 < points.length; k++) {
      const index = points[k]!;
      const guest = this.entries.get(index);
      const hw = this.hardware?.get(index);
      if (guest === 0n && !hw) continue;
      const differs = hw !== undefined && !this.agrees(guest, hw);
      rows.push({ ioba: this.busOffset + (BigInt(index) << BigInt(this.pageShift)), count: points[k + 1]! - index, guest, hw, differs });
    }
    const shown = rows.filter((r) => r.differs).concat(rows.filter((r) => !r.differs)).slice(0, limit);
    const kept = new Set(shown);
    return { rows: rows.filter((r) => kept.has(r)), more: rows.length - shown.length };
  }

  /** Every hardware entry maps what the guest view says (stretch by stretch, between the runs' edges). */
  inSync(): boolean {
    const hardware = this.hardware;
    if (!hardware) return false;
    const cuts = new Set<number>();
    for (const map of [this.entries, hardware]) for (const [start, count] of map.runs()) cuts.add(start).add(start + count);
    for (const index of cuts) if (!this.agrees(this.entries.get(index) ?? 0n, hardware.get(index) ?? 0n)) return false;
    return true;
  }
}
