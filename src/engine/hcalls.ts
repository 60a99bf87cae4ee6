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

/**
 * h_stuff_tce: a count larger than the whole table is refused before anything is written;
 * otherwise entry after entry, stopping at the first failure (entries already written stay).
 * The answer starts as H_PARAMETER, so a count of 0 answers H_PARAMETER (seen on QEMU 7.2).
 */
export function qemuStuffTce(table: TceTable | undefined, ioba: bigint, tce: bigint, count: bigint): HcallRc {
  if (!table || count > table.entryCount || count === 0n) return "H_PARAMETER";
  // Entry after entry until the window ends: as one range, whatever the count.
  const first = table.indexOf(ioba & table.pageMask);
  if (first === undefined) return "H_PARAMETER";
  const written = Math.min(Number(count), Number(table.entryCount) - first);
  table.setRange(first, written, tce);
  table.notify(first, tce, written);
  return BigInt(written) === count ? "H_SUCCESS" : "H_PARAMETER";
}

/**
 * h_put_tce_indirect: the list must be 4 KiB aligned and hold at most 512 entries; then entry
 * after entry, stopping at the first failure. Like H_STUFF_TCE, an empty list answers H_PARAMETER.
 */
export function qemuPutTceIndirect(table: TceTable | undefined, ioba: bigint, tces: readonly bigint[], listAddress: bigint): HcallRc {
  if (!table) return "H_PARAMETER";
  if (tces.length > 512 || (listAddress & 0xfffn) !== 0n) return "H_PARAMETER";
  let rc: HcallRc = "H_PARAMETER";
  let at = ioba & table.pageMask;
  for (const tce of tces) {
    rc = putEntry(table, at, tce);
    if (rc !== "H_SUCCESS") return rc;
    at = (at + table.pageSize) & U64;
  }
  return rc;
}
