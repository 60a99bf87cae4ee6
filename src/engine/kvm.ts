// H_PUT_TCE, H_GET_TCE, H_STUFF_TCE and H_PUT_TCE_INDIRECT as KVM answers them while a table
// lives in the kernel (arch/powerpc/kvm/book3s_64_vio.c). KVM is stricter than QEMU.
import type { HcallRc } from "./types.js";
import { TCE_RW } from "./types.js";
import type { TceTable } from "./table.js";

/** kvmppc_ioba_validate: page-aligned, and the whole range inside the window. */
export function kvmIobaValid(table: TceTable, ioba: bigint, pages: bigint): boolean {
  const mask = table.pageSize - 1n;
  if ((ioba & mask) !== 0n) return false;
  const index = ioba >> BigInt(table.pageShift);
  const first = table.busOffset >> BigInt(table.pageShift);
  if (index < first) return false;
  return index - first + pages <= table.entryCount;
}

/**
 * kvmppc_tce_validate: a TCE that grants a permission must carry a page-aligned address.
 * A TCE without permission bits passes ("allow userspace to poison the TCE table").
 * Older kernels (the real-mode handler of the 4.x series) answer H_PARAMETER; the model
 * follows SEMANTICS.md there. Guest RAM bounds (kvmppc_tce_to_ua) are not modelled.
 */
export function kvmTceValid(table: TceTable, tce: bigint): boolean {
  if ((tce & TCE_RW) === 0n) return true;
  const address = tce & ~TCE_RW;
  return (address & (table.pageSize - 1n)) === 0n;
}

export interface KvmHardwareHook {
  /** KVM programs the hardware table itself (qemu-7.2 with spapr_tce_vfio). */
  (table: TceTable, index: number, tce: bigint): void;
}

export function kvmPutTce(table: TceTable, ioba: bigint, tce: bigint, hardware?: KvmHardwareHook): HcallRc {
  if (!kvmIobaValid(table, ioba, 1n)) return "H_PARAMETER";
  if (!kvmTceValid(table, tce)) return "H_PARAMETER";
  const index = table.indexOf(ioba)!;
  hardware?.(table, index, tce);
  table.set(index, tce);
  return "H_SUCCESS";
}

export function kvmGetTce(table: TceTable, ioba: bigint): { rc: HcallRc; value?: bigint } {
  if (!kvmIobaValid(table, ioba, 1n)) return { rc: "H_PARAMETER" };
  return { rc: "H_SUCCESS", value: table.get(table.indexOf(ioba)!) };
}

/** kvmppc_h_stuff_tce: the range is checked first, and only a TCE without permissions may be stuffed. */
export function kvmStuffTce(table: TceTable, ioba: bigint, tce: bigint, count: bigint, hardware?: KvmHardwareHook): HcallRc {
  if (!kvmIobaValid(table, ioba, count)) return "H_PARAMETER";
  if ((tce & TCE_RW) !== 0n) return "H_PARAMETER";
  const first = table.indexOf(ioba);
  if (first === undefined) return "H_SUCCESS"; // count 0 at the window's end
  for (let i = 0; i < Number(count); i++) {
    hardware?.(table, first + i, tce);
    table.set(first + i, tce);
  }
  return "H_SUCCESS";
}

/** kvmppc_h_put_tce_indirect: every check and every TCE is validated before anything is written. */
export function kvmPutTceIndirect(
  table: TceTable,
  ioba: bigint,
  tces: readonly bigint[],
  listAddress: bigint,
  hardware?: KvmHardwareHook,
): HcallRc {
  if (tces.length > 512) return "H_PARAMETER";
  if ((listAddress & 0xfffn) !== 0n) return "H_PARAMETER";
  if (!kvmIobaValid(table, ioba, BigInt(tces.length))) return "H_PARAMETER";
  if (!tces.every((tce) => kvmTceValid(table, tce))) return "H_PARAMETER";
  const first = table.indexOf(ioba);
  if (first === undefined) return "H_SUCCESS";
  tces.forEach((tce, i) => {
    hardware?.(table, first + i, tce);
    table.set(first + i, tce);
  });
  return "H_SUCCESS";
}
