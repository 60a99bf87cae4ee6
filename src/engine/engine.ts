// The engine's public face: operations in, outcomes out, and side-effect-free queries.
import type { MachineConfig, Operation, Outcome, ProfileName } from "./types.js";
import { Machine } from "./machine.js";
import { PROFILES } from "./profiles.js";
import { kvmGetTce, kvmPutTce, kvmPutTceIndirect, kvmStuffTce } from "./kvm.js";
import { qemuGetTce, qemuPutTce, qemuPutTceIndirect, qemuStuffTce } from "./hcalls.js";
import { createWindow, queryWindow, removeWindow, resetWindows } from "./rtas.js";
import { migrate, save, type MigrationStream } from "./migration.js";
import type { Placement, TceTable } from "./table.js";

export class Engine {
  private machine: Machine;

  constructor(
    readonly profile: ProfileName,
    config: MachineConfig,
  ) {
    this.machine = new Machine(PROFILES[profile], config);
  }

  apply(operation: Operation): Outcome {
    const m = this.machine;
    switch (operation.kind) {
      case "add_phb":
        m.addPhb(operation.phb);
        return { kind: "done" };
      case "plug":
        m.plug(operation.device, operation.name, operation.phbIndex);
        return { kind: "done" };
      case "unplug":
        m.unplug(operation.name);
        return { kind: "done" };
      case "put_tce": {
        const table = m.findTable(operation.liobn);
        const code =
          table?.placement === "kvm"
            ? kvmPutTce(table, operation.ioba, operation.tce, m.kvmHardwareHook(table))
            : qemuPutTce(table, operation.ioba, operation.tce);
        return { kind: "hcall", code };
      }
      case "get_tce": {
        const table = m.findTable(operation.liobn);
        const { rc, value } = table?.placement === "kvm" ? kvmGetTce(table, operation.ioba) : qemuGetTce(table, operation.ioba);
        return { kind: "hcall", code: rc, value };
      }
      case "stuff_tce": {
        const table = m.findTable(operation.liobn);
        // Without multi_tce KVM passes H_STUFF_TCE to QEMU, which writes through its mapping of the KVM table.
        const code = this.kvmHandlesMulti(table)
          ? kvmStuffTce(table, operation.ioba, operation.tce, operation.count, m.kvmHardwareHook(table))
          : qemuStuffTce(table, operation.ioba, operation.tce, operation.count);
        return { kind: "hcall", code };
      }
      case "put_tce_indirect": {
        const table = m.findTable(operation.liobn);
        const code = this.kvmHandlesMulti(table)
          ? kvmPutTceIndirect(table, operation.ioba, operation.tces, operation.listAddress, m.kvmHardwareHook(table))
          : qemuPutTceIndirect(table, operation.ioba, operation.tces, operation.listAddress);
        return { kind: "hcall", code };
      }
      case "create_window":
        return createWindow(m, operation.phbIndex, operation.pageSize, operation.windowSize);
      case "remove_window":
        return removeWindow(m, operation.liobn);
      case "reset_windows":
        return resetWindows(m, operation.phbIndex);
      case "query_window":
        return queryWindow(m, operation.phbIndex);
      case "dma":
        return { kind: "dma", address: m.translate(operation.device, operation.access, operation.ioba) };
      case "reset":
        m.reset();
        return { kind: "done" };
      case "migrate": {
        const destination = migrate(m);
        if (destination) this.machine = destination;
        return { kind: "migrate", ok: destination !== undefined };
      }
    }
  }

  private kvmHandlesMulti(table: TceTable | undefined): table is TceTable {
    return table?.placement === "kvm" && this.machine.caps.has("multi_tce");
  }

  // ---- queries: no side effects --------------------------------------------------------

  placement(liobn: bigint): Placement | "absent" {
    return this.machine.findTable(liobn)?.placement ?? "absent";
  }

  geometry(liobn: bigint): { windowSize: bigint; pageSize: bigint; offset: bigint } | undefined {
    const table = this.machine.findTable(liobn);
    return table && { windowSize: table.windowSize, pageSize: table.pageSize, offset: table.busOffset };
  }

  /** The guest view entry, read without a hypercall; undefined when the IOBA is in no such window. */
  guestEntry(liobn: bigint, ioba: bigint): bigint | undefined {
    const table = this.machine.findTable(liobn);
    const index = table?.indexOf(ioba);
    return index === undefined ? undefined : table!.get(index);
  }

  /** The hardware table's entry (0 when unmapped); "absent" when there is no hardware table. */
  hardwareEntry(liobn: bigint, ioba: bigint): bigint | "absent" | undefined {
    const table = this.machine.findTable(liobn);
    if (!table?.hardware) return "absent";
    const index = table.indexOf(ioba);
    return index === undefined ? undefined : (table.hardware.get(index) ?? 0n);
  }

  hardwareState(liobn: bigint): "in_sync" | "absent" | "out_of_sync" {
    const table = this.machine.findTable(liobn);
    if (!table?.hardware) return "absent";
    return table.inSync() ? "in_sync" : "out_of_sync";
  }

  hasVfio(phbIndex: number): boolean {
    return this.machine.phbs.get(phbIndex)?.hasVfio ?? false;
  }

  windowCount(phbIndex: number): number {
    return this.machine.phbs.get(phbIndex)?.enabledTables().length ?? 0;
  }

  notifierCount(liobn: bigint): number {
    return this.machine.findTable(liobn)?.notifier ? 1 : 0;
  }

  /** The migration stream this machine would send (for tests and debugging). */
  snapshot(): MigrationStream {
    return save(this.machine);
  }
}
