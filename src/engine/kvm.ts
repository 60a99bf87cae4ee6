// H_PUT_TCE, H_GET_TCE, H_STUFF_TCE and H_PUT_TCE_INDIRECT as KVM answers them while a table
// lives in the kernel (arch/powerpc/kvm/book3s_64_vio.c). The rules depend on the kernel: a
// profile names the one its QEMU ran on. H_TOO_HARD hands the whole call back to QEMU, which
// then answers it by its own rules on its mapping of the same table.
import type { HcallRc } from "./types.js";
import type { KernelRulesName } from "../profile-names.js";
export { KERNEL_RULES_NAMES, isKernelRules, type KernelRulesName } from "../profile-names.js";
import { TCE_RW } from "./types.js";
import type { TceTable } from "./table.js";

export interface KvmHardwareHook {
  /** KVM programs the hardware table itself (qemu-7.2 with spapr_tce_vfio), for entries [index, index + count). */
  (table: TceTable, index: number, tce: bigint, count: number): void;
  /** The kernel WARNed on the way (and went on): `expect host` reads `warned` from here. */
  warn?(where: string): void;
  /** The host's exchange of an entry past the window's end fails (host.ts; default true). */
  pastEndFails?: boolean;
  /**
   * KVM mapped an entry in the hardware table that nothing will ever count as unmapped: one past
   * the window's end (where that does not fail), or one of no permission from a list. The
   * container's release and the mm's teardown find the guest's memory still counted as mapped.
   */
  leftCounted?(): void;
}

/** A kernel's in-kernel TCE hypercalls. "H_TOO_HARD": QEMU answers the call instead. */
export interface KvmRules {
  /** How a command line names them: linux-4, linux-6, linux-6-checked. */
  readonly id: KernelRulesName;
  readonly name: string;
  /** What it stands for, as docs/language.md's table of kernel rules says it (generated from here). */
  readonly summary: string;
  putTce(table: TceTable, ioba: bigint, tce: bigint, hardware?: KvmHardwareHook): HcallRc;
  getTce(table: TceTable, ioba: bigint): { rc: HcallRc; value?: bigint };
  stuffTce(table: TceTable, ioba: bigint, tce: bigint, count: bigint, hardware?: KvmHardwareHook): HcallRc;
  /** `ram`: the guest's RAM; KVM translates each TCE's address into it. */
  putTceIndirect(table: TceTable, ioba: bigint, tces: readonly bigint[], listAddress: bigint, ram: bigint, hardware?: KvmHardwareHook): HcallRc;
  /**
   * The KVM-VFIO device WARNs when a vfio group leaves it (QEMU's unplug of the group's last
   * device, or QEMU's exit) without ever having been given a TCE table
   * (KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE): kvm_spapr_tce_release_vfio_group's WARN_ON_ONCE on a
   * group with no iommu_group (virt/kvm/vfio.c:103 in 6.12.95).
   */
  readonly warnsOnUnattachedGroupRelease: boolean;
}

/** kvmppc_ioba_validate as the 4.x kernels wrote it: page-aligned, and `pages` entries inside the window. */
function iobaValid(table: TceTable, ioba: bigint, pages: bigint): boolean {
  if ((ioba & (table.pageSize - 1n)) !== 0n) return false;
  const index = ioba >> BigInt(table.pageShift);
  const first = table.busOffset >> BigInt(table.pageShift);
  if (index < first) return false;
  return index - first + pages <= table.entryCount;
}

/** A TCE that grants a permission carries a page-aligned address; one without passes ("poison"). */
function tceValid(table: TceTable, tce: bigint): boolean {
  if ((tce & TCE_RW) === 0n) return true;
  return ((tce & ~TCE_RW) & (table.pageSize - 1n)) === 0n;
}

/** Writes `tces` from `ioba` on, as far as the window goes (the model keeps nothing past its end). */
function write(table: TceTable, ioba: bigint, tces: readonly bigint[], hardware?: KvmHardwareHook): void {
  const first = table.indexOf(ioba);
  if (first === undefined) return;
  tces.slice(0, Number(table.entryCount) - first).forEach((tce, i) => {
    hardware?.(table, first + i, tce, 1);
    table.set(first + i, tce);
  });
}

/** The same TCE over `count` entries from `ioba` on, as one range, as far as the window goes. */
function fill(table: TceTable, ioba: bigint, tce: bigint, count: bigint, hardware?: KvmHardwareHook): void {
  const first = table.indexOf(ioba);
  if (first === undefined) return;
  const n = Math.min(Number(count), Number(table.entryCount) - first);
  hardware?.(table, first, tce, n);
  table.setRange(first, n, tce);
}

function getTce(table: TceTable, ioba: bigint): { rc: HcallRc; value?: bigint } {
  if (!iobaValid(table, ioba, 1n)) return { rc: "H_PARAMETER" };
  return { rc: "H_SUCCESS", value: table.get(table.indexOf(ioba)!) };
}

/**
 * The 4.x kernels SEMANTICS.md describes: every check before anything is written, the whole
 * range checked, a TCE with an unaligned address refused with H_PARAMETER.
 */
export const KVM_LINUX_4: KvmRules = {
  id: "linux-4",
  name: "Linux 4.x",
  summary:
    "the 4.x kernels SEMANTICS.md describes: the whole range of a stuff or list is checked before anything is written, an unaligned TCE is H_PARAMETER",
  warnsOnUnattachedGroupRelease: false,
  putTce(table, ioba, tce, hardware) {
    if (!iobaValid(table, ioba, 1n) || !tceValid(table, tce)) return "H_PARAMETER";
    write(table, ioba, [tce], hardware);
    return "H_SUCCESS";
  },
  getTce,
  stuffTce(table, ioba, tce, count, hardware) {
    if (!iobaValid(table, ioba, count) || (tce & TCE_RW) !== 0n) return "H_PARAMETER";
    fill(table, ioba, tce, count, hardware);
    return "H_SUCCESS";
  },
  putTceIndirect(table, ioba, tces, listAddress, _ram, hardware) {
    if (tces.length > 512 || (listAddress & 0xfffn) !== 0n) return "H_PARAMETER";
    if (!iobaValid(table, ioba, BigInt(tces.length)) || !tces.every((tce) => tceValid(table, tce))) return "H_PARAMETER";
    write(table, ioba, tces, hardware);
    return "H_SUCCESS";
  },
};

/** The entries from `ioba` on that a call of `count` entries covers past the window's end. */
export function runsPastEnd(table: TceTable, ioba: bigint, count: bigint): boolean {
  const first = table.indexOf(ioba);
  return first !== undefined && BigInt(first) + count > table.entryCount;
}

/** The TCE's address is guest RAM (kvmppc_tce_to_ua finds a memslot for it). */
const inRam = (tce: bigint, ram: bigint) => (tce & ~TCE_RW) < ram;

function linux6(wholeRange: boolean): KvmRules {
  // The range H_STUFF_TCE and H_PUT_TCE_INDIRECT are checked over: the first entry (6.x as released), or all of them.
  const rangeValid = (table: TceTable, ioba: bigint, count: bigint) => iobaValid(table, ioba, wholeRange ? count : 1n);
  return {
    id: wholeRange ? "linux-6-checked" : "linux-6",
    name: wholeRange ? "Linux 6.x with the whole range checked" : "Linux 6.x",
    summary: wholeRange
      ? "Linux 6.x with `patches/linux-0001-…patch`: a stuff or list that runs past the window's end is H_PARAMETER before anything is written, with or without a hardware table (seen on 6.12.95 built with the patch)"
      : "Linux 6.x as released (seen on 6.12): a stuff or list is checked on its first entry only, an unaligned TCE goes to QEMU (H_TOO_HARD)",
    // Seen on 6.12.95 (Debian's and built with the range patch alike) under QEMU 7.2, whose groups
    // get a table only where the host offers spapr_tce_vfio.
    warnsOnUnattachedGroupRelease: true,
    putTce(table, ioba, tce, hardware) {
      if (!iobaValid(table, ioba, 1n)) return "H_PARAMETER";
      if (!tceValid(table, tce)) return "H_TOO_HARD";
      write(table, ioba, [tce], hardware);
      return "H_SUCCESS";
    },
    getTce,
    stuffTce(table, ioba, tce, count, hardware) {
      if (!rangeValid(table, ioba, count) || (tce & TCE_RW) !== 0n) return "H_PARAMETER";
      // With a hardware table attached (spapr_tce_vfio), KVM unmaps each entry there first; the one
      // past the window's end fails, and QEMU answers the whole call (seen on 6.12: H_PARAMETER, the
      // entries inside the window written).
      // The failed unmap is a WARN_ON_ONCE (kvmppc_tce_iommu_do_unmap): seen on 6.12.95.
      // Where the host lets it (PowerNV), the stuff goes on past the end, and leaves nothing behind
      // that the container's release WARNs about: a stuff only clears (seen on 6.12.95: zeros past
      // the end, with entries mapped before it or not, then QEMU's exit, an unplug or a reset).
      if (hardware && runsPastEnd(table, ioba, count)) {
        if (hardware.pastEndFails !== false) {
          hardware.warn?.("kvmppc_tce_iommu_do_unmap");
          return "H_TOO_HARD";
        }
      }
      fill(table, ioba, tce, count, hardware);
      return "H_SUCCESS";
    },
    putTceIndirect(table, ioba, tces, listAddress, ram, hardware) {
      if (tces.length > 512 || (listAddress & 0xfffn) !== 0n || !rangeValid(table, ioba, BigInt(tces.length))) return "H_PARAMETER";
      // kvmppc_tce_validate: a TCE that grants a permission must be page-aligned and in guest RAM.
      if (!tces.every((tce) => tceValid(table, tce) && ((tce & TCE_RW) === 0n || inRam(tce, ram)))) return "H_TOO_HARD";
      // The write loop, entry by entry: every TCE's address is translated (a TCE without permission
      // outside guest RAM: H_PARAMETER, the entries before it stay); then each hardware table maps
      // the entry, and the one past the window's end hands the whole call to QEMU.
      // Unlike H_PUT_TCE, which unmaps an entry of no permission, the list maps it (DMA_NONE) and
      // counts the page as mapped; an entry of no permission is never unmapped, so that count stays
      // (kvmppc_tce_iommu_do_map; found by explore on PowerNV, seen on pseries too).
      const first = table.indexOf(ioba)!;
      const mapped = (n: number) => {
        if (hardware && tces.slice(0, n).some((tce) => (tce & TCE_RW) === 0n)) hardware.leftCounted?.();
      };
      for (const [i, tce] of tces.entries()) {
        if (!inRam(tce, ram)) {
          write(table, ioba, tces.slice(0, i), hardware);
          mapped(i);
          return "H_PARAMETER";
        }
        if (hardware && hardware.pastEndFails === false && first + i === Number(table.entryCount)) hardware.leftCounted?.();
        if (hardware && hardware.pastEndFails !== false && first + i >= Number(table.entryCount)) {
          // A failed map or unmap of the entry is a WARN_ON_ONCE (kvmppc_tce_iommu_do_map/do_unmap).
          hardware.warn?.((tce & TCE_RW) === 0n ? "kvmppc_tce_iommu_do_unmap" : "kvmppc_tce_iommu_do_map");
          mapped(i);
          return "H_TOO_HARD";
        }
      }
      write(table, ioba, tces, hardware);
      mapped(tces.length);
      return "H_SUCCESS";
    },
  };
}

/**
 * Linux 6.x, seen on 6.12 KVM-HV (nested) under QEMU 7.2:
 * - kvmppc_ioba_validate is iommu_tce_check_ioba, which checks the first entry only: a stuff
 *   or list that runs past the window's end is accepted (the kernel writes past its table;
 *   the model keeps what falls inside the window);
 * - kvmppc_tce_validate answers H_TOO_HARD for a TCE whose address is not page-aligned, so
 *   QEMU answers that call by its own rules (and keeps such a TCE).
 */
export const KVM_LINUX_6: KvmRules = linux6(false);

/**
 * Linux 6.x with iommu_tce_check_ioba checking the whole range (patches/linux-0001-…patch), seen
 * on 6.12.95 built here with it: a stuff or list that runs past the window's end is H_PARAMETER
 * before anything is written, with or without a hardware table; the rest is 6.x's.
 */
export const KVM_LINUX_6_CHECKED: KvmRules = linux6(true);

export const KERNEL_RULES: Record<KernelRulesName, KvmRules> = { "linux-4": KVM_LINUX_4, "linux-6": KVM_LINUX_6, "linux-6-checked": KVM_LINUX_6_CHECKED };
