// The engine's public face: operations in, outcomes out, and side-effect-free queries.
import type { Host } from "./host.js";
import type { MachineConfig, Operation, Outcome, ProfileName, HcallRc, TablePicture } from "./types.js";
import { DEFAULT_GUEST_RAM } from "./types.js";
import { Machine } from "./machine.js";
import { PROFILES } from "./profiles.js";
import { runsPastEnd, type KvmRules } from "./kvm.js";
import { qemuGetTce, qemuPutTce, qemuPutTceIndirect, qemuStuffTce } from "./hcalls.js";
import { createWindow, queryWindow, removeWindow, resetWindows } from "./rtas.js";
import { migrate, save, type MigrationStream } from "./migration.js";
import type { Placement, TceTable } from "./table.js";
import { hex } from "../values.js";
import { unreachable } from "../unreachable.js";

export class Engine {
  private machine: Machine;
  /** Where the host kernel WARNed, if it did: the host's, so it outlives a migration. */
  private warned?: string;
  /** The first call the host kernel carried out past a TCE table's end, if one was: the host's too. */
  private overrun?: string;

  constructor(
    readonly profile: ProfileName,
    config: MachineConfig,
    /** The host kernel's TCE hypercalls, when not the profile's (a kernel with a fix: --kernel-rules). */
    kernel?: KvmRules,
    /** The host whose IOMMU holds the hardware tables (--kvm-host): pseries when not given. */
    host?: Host,
  ) {
    this.machine = new Machine(kernel ? { ...PROFILES[profile], kvm: kernel } : PROFILES[profile], config, host);
  }

  apply(operation: Operation): Outcome {
    const outcome = this.operate(operation);
    // A WARN the step caused (a call past the end, a vfio group released unattached): the host's from now on.
    if (this.machine.warning !== undefined) {
      this.warned ??= this.machine.warning;
      this.machine.warning = undefined;
    }
    return outcome;
  }

  private operate(operation: Operation): Outcome {
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
      case "put_tce":
      case "get_tce":
      case "stuff_tce":
      case "put_tce_indirect":
        return this.hypercall(operation);
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
      default:
        return unreachable(operation);
    }
  }

  /**
   * A TCE hypercall, answered by KVM when the table lives there, or by QEMU. Without multi_tce KVM
   * passes H_STUFF_TCE and H_PUT_TCE_INDIRECT to QEMU, which writes through its mapping of the KVM
   * table (and so notifies vfio).
   */
  private hypercall(operation: Extract<Operation, { kind: "put_tce" | "get_tce" | "stuff_tce" | "put_tce_indirect" }>): Outcome {
    const m = this.machine;
    const table = m.findTable(operation.liobn);
    const multi = operation.kind === "stuff_tce" || operation.kind === "put_tce_indirect";
    const inKvm = table?.placement === "kvm" && (!multi || m.caps.has("multi_tce")) ? table : undefined;
    const hook = inKvm && m.kvmHardwareHook(inKvm);
    const kvm = m.profile.kvm;
    // KVM first; on H_TOO_HARD (or a table KVM does not hold) QEMU answers the whole call.
    const first = <T extends { rc: HcallRc }>(inKernel: (() => T) | undefined, inQemu: () => T): T => {
      const answer = inKernel?.();
      return answer && answer.rc !== "H_TOO_HARD" ? answer : inQemu();
    };
    const code = (rc: HcallRc) => ({ rc });
    switch (operation.kind) {
      case "put_tce": {
        const { ioba, tce } = operation;
        const { rc } = first(inKvm && (() => code(kvm.putTce(inKvm, ioba, tce, hook))), () => code(qemuPutTce(table, ioba, tce)));
        return { kind: "hcall", code: rc };
      }
      case "get_tce": {
        const { rc, value } = first(inKvm && (() => kvm.getTce(inKvm, operation.ioba)), () => qemuGetTce(table, operation.ioba));
        return { kind: "hcall", code: rc, value };
      }
      case "stuff_tce": {
        const { ioba, tce, count } = operation;
        let inKernel: HcallRc | undefined;
        const { rc } = first(inKvm && (() => code((inKernel = kvm.stuffTce(inKvm, ioba, tce, count, hook)))), () =>
          code(qemuStuffTce(table, ioba, tce, count)),
        );
        this.overran(inKvm, inKernel, ioba, count, operation.kind);
        return { kind: "hcall", code: rc };
      }
      case "put_tce_indirect": {
        const { ioba, tces, listAddress } = operation;
        const ram = m.config.ram ?? DEFAULT_GUEST_RAM;
        let inKernel: HcallRc | undefined;
        const { rc } = first(inKvm && (() => code((inKernel = kvm.putTceIndirect(inKvm, ioba, tces, listAddress, ram, hook)))), () =>
          code(qemuPutTceIndirect(table, ioba, tces, listAddress)),
        );
        this.overran(inKvm, inKernel, ioba, BigInt(tces.length), operation.kind);
        return { kind: "hcall", code: rc };
      }
      default:
        return unreachable(operation);
    }
  }

  /**
   * A call the kernel took (H_SUCCESS) over a range that runs past its table's end: Linux 6.x as
   * released checks the first entry only, and writes the rest past KVM's table (and on PowerNV
   * past the hardware table too). The model keeps what falls inside; the host's memory after the
   * table is not the model's to keep, and a host that ran such a call is not to be trusted after.
   */
  private overran(table: TceTable | undefined, rc: HcallRc | undefined, ioba: bigint, count: bigint, kind: string): void {
    if (rc !== "H_SUCCESS" || !table || !runsPastEnd(table, ioba, count)) return;
    const past = BigInt(table.indexOf(ioba)!) + count - table.entryCount;
    this.overrun ??= `${kind} of ${count} entries from ${hex(ioba)} ran ${past} past the end of a table of ${table.entryCount}`;
  }

  /**
   * Why the host's memory is no longer the host's own, if it is not: the first call its kernel
   * carried out past a TCE table's end (`kvm-first-entry`). A real host that ran it may fail
   * anywhere later; the kvm backend runs no other guest on it.
   */
  hostOverrun(): string | undefined {
    return this.overrun;
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

  /** The host as `expect host` reads it: the model's kernel never crashes, and WARNs where a kernel's rules say it does. */
  hostState(): "ok" | "warned" {
    return this.warned === undefined ? "ok" : "warned";
  }

  /**
   * The host once the machine's QEMU has exited (`expect host … at exit`): as the run left it,
   * and what the exit does (vfio groups leave the KVM-VFIO device).
   */
  hostStateAtExit(): "ok" | "warned" {
    return this.warned === undefined && this.machine.exitWarning() === undefined ? "ok" : "warned";
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

  /** Every table as it stands, for a report's picture of a divergence: at most `limit` stretches each. */
  picture(limit = 32): TablePicture[] {
    return [...this.machine.phbs.values()].flatMap((phb) =>
      phb.enabledTables().map((table) => ({
        liobn: table.liobn,
        phbIndex: phb.index,
        window: table.window,
        placement: table.placement,
        windowSize: table.windowSize,
        pageSize: table.pageSize,
        hardware: table.hardware !== undefined,
        ...table.picture(limit),
      })),
    );
  }

  /** The migration stream this machine would send (for tests and debugging). */
  snapshot(): MigrationStream {
    return save(this.machine);
  }
}
