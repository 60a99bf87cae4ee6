// The TCE hypercalls as QEMU answers them in userspace (hw/ppc/spapr_iommu.c): the IOBA is
// masked to its page, no TCE bit is checked, multi-entry calls stop at the first failure and
// keep what they wrote. Every change is announced to the table's IOMMU notifiers.
import type { HcallRc } from "./types.js";
import type { TceTable } from "./table.js";

const U64 = 0xffff_ffff_ffff_ffffn; // target_ulong arithmetic wraps

/** put_tce_emu: store the TCE as given and notify. */
function putEntry(table: TceTable, ioba: bigint, tce: bigint): HcallRc {
  const index = table.indexOf(ioba);
  if (index === undefined) return "H_PARAMETER";
  table.set(index, tce);
  table.notify(index, tce);
  return "H_SUCCESS";
}

/** h_put_tce: the IOBA is rounded down to 4 KiB, then indexed with the table's page shift. */
export function qemuPutTce(table: TceTable | undefined, ioba: bigint, tce: bigint): HcallRc {
  if (!table) return "H_PARAMETER";
  return putEntry(table, ioba & ~0xfffn, tce);
}

export function qemuGetTce(table: TceTable | undefined, ioba: bigint): { rc: HcallRc; value?: bigint } {
  if (!table) return { rc: "H_PARAMETER" };
  const index = table.indexOf(ioba);
  if (index === undefined) return { rc: "H_PARAMETER" };
  return { rc: "H_SUCCESS", value: table.get(index) };
}

/** h_stuff_tce: entry after entry; stops at the first failure, entries already written stay. */
export function qemuStuffTce(table: TceTable | undefined, ioba: bigint, tce: bigint, count: bigint): HcallRc {
  if (!table) return "H_PARAMETER";
  let at = ioba & table.pageMask;
  // Past the window's end every further entry fails too: stop there, whatever the count.
  for (let i = 0n; i < count; i++, at = (at + table.pageSize) & U64) {
    const rc = putEntry(table, at, tce);
    if (rc !== "H_SUCCESS") return rc;
  }
  return "H_SUCCESS";
}

/** h_put_tce_indirect: the list must be 4 KiB aligned and hold at most 512 entries. */
export function qemuPutTceIndirect(table: TceTable | undefined, ioba: bigint, tces: readonly bigint[], listAddress: bigint): HcallRc {
  if (!table) return "H_PARAMETER";
  if (tces.length > 512 || (listAddress & 0xfffn) !== 0n) return "H_PARAMETER";
  let at = ioba & table.pageMask;
  for (const tce of tces) {
    const rc = putEntry(table, at, tce);
    if (rc !== "H_SUCCESS") return rc;
    at = (at + table.pageSize) & U64;
  }
  return "H_SUCCESS";
}
