// Dynamic DMA windows through RTAS (hw/ppc/spapr_rtas_ddw.c), as QEMU 7.2 answers them.
import type { Outcome } from "./types.js";
import { MAX_WINDOWS } from "./types.js";
import { createdWindowBase } from "../papr.js";
import type { Machine } from "./machine.js";
import { log2 } from "../values.js";

/** RTAS_DDW_PGSIZE_* bits of the query answer, by page shift (spapr_page_mask_to_query_mask). */
const QUERY_MASK_BITS: [number, bigint][] = [
  [12, 0x01n],
  [16, 0x02n],
  [24, 0x04n],
  [21, 0x100n], // 2M: reported by QEMU 7.2 (seen: mask 0x107)
  [25, 0x08n],
  [26, 0x10n],
  [27, 0x20n],
  [28, 0x40n],
  [34, 0x80n],
];


export function queryWindow(machine: Machine, phbIndex: number): Outcome {
  const phb = machine.phbs.get(phbIndex);
  if (!phb || !phb.config.ddw) return { kind: "rtas", code: "RTAS_PARAM_ERROR" };
  let pageMask = 0n;
  for (const [shift, bit] of QUERY_MASK_BITS) if (machine.profile.ddwPageShifts.includes(shift)) pageMask |= bit;
  return { kind: "rtas", code: "RTAS_OK", free: MAX_WINDOWS - phb.enabledTables().length, pageMask };
}

/**
 * ibm,create-pe-dma-window: the lowest free window; its bus offset is the 32-bit window's
 * address when no window is active, the 64-bit one (2^59) otherwise.
 */
export function createWindow(machine: Machine, phbIndex: number, pageSize: bigint, windowSize: bigint): Outcome {
  const phb = machine.phbs.get(phbIndex);
  if (!phb || !phb.config.ddw) return { kind: "rtas", code: "RTAS_PARAM_ERROR" };
  const pageShift = log2(pageSize);
  const windowShift = log2(windowSize);
  if (!machine.profile.ddwPageShifts.includes(pageShift) || windowShift < pageShift) return { kind: "rtas", code: "RTAS_PARAM_ERROR" };
  const free = phb.windows.findIndex((t) => t === undefined);
  const active = phb.enabledTables().length;
  if (free < 0 || active === MAX_WINDOWS) return { kind: "rtas", code: "RTAS_HW_ERROR" };
  const busOffset = createdWindowBase(active);
  // spapr_tce_table_enable takes the entry count as a uint32_t: 2^32 entries or more truncate to
  // zero, and an empty table is a failed create (seen: 1P of 64K pages → RTAS_HW_ERROR).
  const entryCount = 1n << BigInt(windowShift - pageShift);
  if (entryCount > 0xffff_ffffn) return { kind: "rtas", code: "RTAS_HW_ERROR" };
  const table = machine.enableWindow(phb, free, busOffset, pageShift, entryCount);
  return { kind: "rtas", code: "RTAS_OK", liobn: table.liobn, busOffset };
}

/**
 * ibm,remove-pe-dma-window: any enabled window, the default one included. As PAPR asks, removing
 * the last window when it is not the default one brings the default window back (def_win in
 * rtas_ibm_remove_pe_dma_window). QEMU marks window 0's table as the default when the PHB's reset
 * enables it there and never clears the mark, so "the default one" is window 0, even when a DDW
 * create has reused that slot. Seen on QEMU 7.2 and 10.0.2: remove the default window, then the
 * DDW window, and a default window is back; in the other order, or when the window removed last
 * is a DDW window made in slot 0, none is.
 */
export function removeWindow(machine: Machine, liobn: bigint): Outcome {
  const table = machine.findTable(liobn);
  if (!table) return { kind: "rtas", code: "RTAS_PARAM_ERROR" };
  const phb = machine.phbOfTable(table);
  if (!phb.config.ddw) return { kind: "rtas", code: "RTAS_PARAM_ERROR" };
  machine.disableWindow(phb, table.window);
  if (phb.enabledTables().length === 0 && table.window !== 0) machine.resetWindows(phb);
  return { kind: "rtas", code: "RTAS_OK" };
}

/** ibm,reset-pe-dma-window: every window removed, the default one restored empty. */
export function resetWindows(machine: Machine, phbIndex: number): Outcome {
  const phb = machine.phbs.get(phbIndex);
  if (!phb || !phb.config.ddw) return { kind: "rtas", code: "RTAS_PARAM_ERROR" };
  machine.resetWindows(phb);
  return { kind: "rtas", code: "RTAS_OK" };
}
