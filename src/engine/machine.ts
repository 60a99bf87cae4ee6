// The pseries machine's IOMMU state: PHBs, their tables, where each guest view lives,
// and the vfio-pci side. Hypercall and RTAS rules live in their own files; this file
// decides placement and keeps the hardware tables fed.
import { PSERIES_HOST, type Host } from "./host.js";
import { isPhbLiobn, phbOfLiobn, windowOfLiobn } from "../papr.js";
import type { Capability, DeviceKind, MachineConfig, PhbConfig } from "./types.js";
import { TCE_READ, TCE_WRITE } from "./types.js";
import { Phb } from "./phb.js";
import { TceTable } from "./table.js";
import type { PlacementContext, Profile } from "./profiles.js";
import type { KvmHardwareHook } from "./kvm.js";

const FOUR_GIB = 1n << 32n;

/** The most entries QEMU's vfio asks a host for in a one-level table (vfio_spapr_create_window: 2^24 bytes a level with 64K host pages). */
const ONE_LEVEL_ENTRIES = 1n << 21n;

export class Machine {
  readonly caps: ReadonlySet<Capability>;
  readonly phbs = new Map<number, Phb>();
  readonly deviceHome = new Map<string, Phb>();

  constructor(
    readonly profile: Profile,
    readonly config: MachineConfig,
    /** The host whose IOMMU holds the hardware tables (host.ts). */
    readonly host: Host = PSERIES_HOST,
  ) {
    this.caps = new Set(config.accel === "kvm" ? config.caps : []);
  }

  get kvm(): boolean {
    return this.config.accel === "kvm";
  }

  addPhb(config: PhbConfig): Phb {
    const phb = new Phb(config);
    this.phbs.set(config.index, phb);
    this.enableDefaultWindow(phb);
    return phb;
  }

  /** The enabled table with this LIOBN: SPAPR_PCI_LIOBN(index, window). */
  findTable(liobn: bigint): TceTable | undefined {
    if (!isPhbLiobn(liobn)) return undefined;
    const phb = this.phbs.get(phbOfLiobn(liobn));
    return phb?.windows[windowOfLiobn(liobn)];
  }

  phbOfTable(table: TceTable): Phb {
    return this.phbs.get(phbOfLiobn(table.liobn))!;
  }

  // ---- placement ------------------------------------------------------------------------

  private context(phb: Phb, table: TceTable): PlacementContext {
    return { table, phbHasVfio: phb.hasVfio, caps: this.caps };
  }

  /**
   * kvmppc_create_spapr_tce: KVM on, the host has spapr_tce, the window fits the kernel
   * (before spapr_tce_64: under 4 GiB at bus offset 0), and the profile allows it.
   */
  canLiveInKvm(phb: Phb, table: TceTable): boolean {
    if (!this.kvm || !this.caps.has("spapr_tce")) return false;
    if (!this.caps.has("spapr_tce_64") && (table.busOffset !== 0n || table.windowSize >= FOUR_GIB)) return false;
    return this.profile.mayLiveInKvm(this.context(phb, table));
  }

  /** spapr_tce_table_enable: allocate the table, then let vfio listen if the PHB has a device. */
  enableWindow(phb: Phb, window: number, busOffset: bigint, pageShift: number, entryCount: bigint): TceTable {
    const table = new TceTable(phb.liobn(window), window, busOffset, pageShift, entryCount);
    table.placement = this.canLiveInKvm(phb, table) ? "kvm" : "userspace";
    phb.windows[window] = table;
    // A new window is empty: vfio creates its hardware window without a replay (skipping_replay).
    if (phb.hasVfio) {
      this.windowAddedForVfio(phb, table);
      this.attachVfio(phb, table);
    }
    return table;
  }

  /** spapr_tce_table_disable: the window and its entries are gone; vfio stops listening. */
  disableWindow(phb: Phb, window: number): void {
    const table = phb.windows[window];
    if (!table) return;
    this.detachVfio(table);
    phb.windows[window] = undefined;
  }

  enableDefaultWindow(phb: Phb): TceTable {
    const { dma32, pageShift } = phb.config;
    return this.enableWindow(phb, 0, 0n, pageShift, dma32 >> BigInt(pageShift));
  }

  // ---- vfio -------------------------------------------------------------------------------

  /** vfio's listener: its notifier, and a hardware table built from the current entries. */
  private attachVfio(phb: Phb, table: TceTable): void {
    if (!this.profile.vfioListens(this.context(phb, table))) {
      table.hardwareWithoutListener();
      return;
    }
    const firstListener = !table.notifier;
    table.replayIntoHardware();
    // spapr_tce_set_need_vfio: the copy happens once, when vfio first listens.
    if (firstListener && table.placement === "kvm" && this.profile.reallocOnNotifier(this.context(phb, table))) {
      table.placement = this.canLiveInKvm(phb, table) ? "kvm" : "userspace";
    }
  }

  /** need_vfio goes back to false with the notifier, but nothing moves back to KVM. */
  private detachVfio(table: TceTable): void {
    table.dropHardware();
  }

  /**
   * A WARN of the host kernel (a hardware table's failed map or unmap, a vfio group released
   * unattached), until the engine collects it once the step is over: the host's, not the machine's.
   */
  warning?: string;

  /**
   * vfio's listener adds a window (region_add) while the PHB's groups are in its container: QEMU
   * gives each group the window's table through the KVM-VFIO device where the host offers
   * spapr_tce_vfio (as it does when KVM keeps the hardware table in step), newest group first
   * (QEMU's container lists them so), and stops at the first refusal. The kernel takes a group's
   * IOMMU group before it looks at the table's fd, so a refused group counts as given one at its
   * release: a table in userspace (fd -1, EBADF) reaches the newest group only, the others leave
   * KVM with a WARN. Seen on the PowerNV host (a group per device): three devices, then a reset,
   * WARNed at exit for the middle one (found by explore, specs/hotplug/userspace-table-groups.tce).
   */
  private windowAddedForVfio(phb: Phb, table: TceTable): void {
    if (!this.kvm || !this.profile.kvmUpdatesHardware(this.caps)) return;
    const groups = [...this.groups(phb)];
    for (const group of table.placement === "kvm" ? groups : groups.slice(-1)) phb.attachedGroups.add(group);
  }

  /** A vfio-pci device's IOMMU group: the PHB's one, or its own (host.groupPerDevice). */
  private groupOf(device: string): string {
    return this.host.groupPerDevice ? device : "phb";
  }

  /** The groups of the PHB's vfio-pci devices. */
  private groups(phb: Phb): Set<string> {
    return new Set([...phb.devices].filter(([, kind]) => kind === "vfio").map(([name]) => this.groupOf(name)));
  }

  /** The WARN, if any, of a vfio group leaving the KVM-VFIO device (its last device unplugged, or QEMU's exit). */
  private releaseWarning(phb: Phb, group: string): string | undefined {
    return this.kvm && this.profile.kvm.warnsOnUnattachedGroupRelease && !phb.attachedGroups.has(group) ? "kvm_spapr_tce_release_vfio_group" : undefined;
  }

  /**
   * KVM mapped an entry of a hardware table that nothing counts as unmapped again (kvm.ts
   * `leftCounted`): a list's entry of no permission (mapped as DMA_NONE, skipped by every clear),
   * or a list's entry past a window's end where the host lets it (host.ts). When QEMU exits, vfio
   * WARNs that memory is still counted as mapped (tce_iommu_release, then destroy_context), or,
   * where the device was unplugged before (its container gone quietly), the mm's teardown does
   * (destroy_context). Seen on Linux 6.12.95 after a list of zeros inside the window, on both
   * hosts, and after every list past the end on PowerNV (of zeros or of mappings). A stuff leaves
   * nothing of the kind: it unmaps.
   */
  private leftCounted = false;

  /** What the host kernel does when the machine's QEMU exits: a WARN, if any (the machine stays as it is). */
  exitWarning(): string | undefined {
    if (this.leftCounted && this.kvm) return this.vfioPresent ? "tce_iommu_release" : "destroy_context";
    return [...this.phbs.values()].flatMap((phb) => [...this.groups(phb)].map((group) => this.releaseWarning(phb, group))).find((w) => w !== undefined);
  }

  plug(kind: DeviceKind, name: string, phbIndex: number): void {
    const phb = this.phbs.get(phbIndex)!;
    const first = kind === "vfio" && !phb.hasVfio;
    phb.devices.set(name, kind);
    this.deviceHome.set(name, phb);
    if (!first) return;
    for (const table of phb.enabledTables()) this.windowAddedForVfio(phb, table);
    // spapr_phb_hotplug_dma_sync (seed-v10): every table of the PHB moves to userspace first.
    if (this.profile.reallocOnHotplug) for (const table of phb.enabledTables()) table.placement = "userspace";
    for (const table of phb.enabledTables()) this.attachVfio(phb, table);
  }

  unplug(name: string): void {
    const phb = this.deviceHome.get(name)!;
    const vfio = phb.devices.get(name) === "vfio";
    const group = this.groupOf(name);
    phb.devices.delete(name);
    this.deviceHome.delete(name);
    // The device's group leaves QEMU's container and the KVM-VFIO device with its last device.
    const leaves = vfio && !this.groups(phb).has(group);
    if (leaves) {
      this.warning ??= this.releaseWarning(phb, group);
      phb.attachedGroups.delete(group);
    }
    if (phb.hasVfio) {
      // Other groups stay in the container: its tables are cleared under them (host.ts).
      if (leaves) for (const table of phb.enabledTables()) table.clearHardware();
      return;
    }
    for (const table of phb.enabledTables()) this.detachVfio(table);
    phb.attachedGroups.clear();
  }

  /** How KVM treats the hardware table on puts it answers itself. */
  kvmHardwareHook(table: TceTable): KvmHardwareHook | undefined {
    if (!table.hardware || !this.profile.kvmUpdatesHardware(this.caps)) return undefined;
    return Object.assign((t: TceTable, index: number, tce: bigint, count: number) => t.notify(index, tce, count, false, this.host.writeAddsRead), {
      warn: (where: string) => void (this.warning ??= where),
      pastEndFails: this.host.pastEndFails,
      leftCounted: () => void (this.leftCounted = true),
    });
  }

  // ---- DMA --------------------------------------------------------------------------------

  /** A device's DMA: emulated devices read the guest view, vfio-pci devices the hardware table. */
  translate(device: string, access: "read" | "write", ioba: bigint): bigint | undefined {
    const phb = this.deviceHome.get(device);
    if (!phb) return undefined;
    const vfio = phb.devices.get(device) === "vfio";
    const table = phb.tableFor(ioba) ?? (vfio && this.host.dmaPastEndWraps ? phb.tableByTve(ioba) : undefined);
    if (!table) return undefined;
    // Past the window's end on a host whose PHB wraps (host.ts): modulo a one-level table's entries.
    const index = table.indexOf(ioba) ?? (table.entryCount <= ONE_LEVEL_ENTRIES ? Number((ioba >> BigInt(table.pageShift)) % table.entryCount) : undefined);
    if (index === undefined) return undefined;
    const entry = vfio ? table.hardware?.get(index) : table.get(index);
    if (entry === undefined) return undefined;
    const needed = access === "read" ? TCE_READ : TCE_WRITE;
    if ((entry & needed) === 0n) return undefined;
    return (entry & table.pageMask) | (ioba & (table.pageSize - 1n));
  }

  // ---- reset ------------------------------------------------------------------------------

  /** Machine reset (spapr_phb_dma_reset on every PHB): windows disabled, the default one back, empty. */
  reset(): void {
    for (const phb of this.phbs.values()) this.resetWindows(phb);
  }

  resetWindows(phb: Phb): void {
    phb.windows.forEach((_, window) => this.disableWindow(phb, window));
    this.enableDefaultWindow(phb);
  }

  get vfioPresent(): boolean {
    for (const phb of this.phbs.values()) if (phb.hasVfio) return true;
    return false;
  }
}
