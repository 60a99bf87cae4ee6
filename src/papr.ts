// sPAPR facts as QEMU 7.2 and 10.0 lay them out: how LIOBNs, BUIDs, windows, hypercalls, RTAS
// calls and DR connectors are numbered. The model and every real target read them here, once.
// Sources: include/hw/ppc/spapr.h, include/hw/pci-host/spapr.h, hw/ppc/spapr_pci.c,
// hw/ppc/spapr_drc.c, hw/ppc/spapr_rtas_ddw.c.

/** A TCE's permission bits. */
export const TCE_READ = 1n;
export const TCE_WRITE = 2n;
export const TCE_RW = 3n;

/** SPAPR_PCI_LIOBN: window `window` (0: the default, 1: a DDW window) of PHB `phbIndex`. */
export function liobnOf(phbIndex: number, window: number): bigint {
  return 0x80000000n | (BigInt(phbIndex) << 8n) | BigInt(window);
}

/** Whether a LIOBN is a PHB window's (the other LIOBNs belong to VIO devices). */
export const isPhbLiobn = (liobn: bigint) => (liobn & ~0xffffn) === 0x80000000n;
/** The PHB a window's LIOBN belongs to. */
export const phbOfLiobn = (liobn: bigint) => Number((liobn >> 8n) & 0xffn);
/** Which of its PHB's windows a LIOBN names (0 or 1). */
export const windowOfLiobn = (liobn: bigint) => Number(liobn & 0xffn);

/** A PHB's BUID, as RTAS calls name it (SPAPR_PCI_BASE_BUID + index). */
export function buidOf(phbIndex: number): bigint {
  return 0x800000020000000n + BigInt(phbIndex);
}

/** Bus offset of the 64-bit DDW window (2^59, the PHB's dma64_win_addr), seen on QEMU 7.2. */
export const DMA64_WINDOW_ADDR = 0x800000000000000n;
/** The only bus offsets QEMU gives windows: the 32-bit window's and the 64-bit one. */
export const WINDOW_BASES: readonly bigint[] = [0n, DMA64_WINDOW_ADDR];
/**
 * The bus offset of a window created while `active` windows are enabled: the 32-bit window's
 * address when none is, else the 64-bit one (rtas_ibm_create_pe_dma_window), whichever slot it takes.
 */
export const createdWindowBase = (active: number) => (active === 0 ? 0n : DMA64_WINDOW_ADDR);
/** Windows a PHB can have at once (the default and one DDW window). */
export const MAX_WINDOWS = 2;

/** Hypercall opcodes (PAPR; QEMU's hw/ppc/spapr_hcall.c and spapr_iommu.c). */
export const HCALL = {
  H_GET_TCE: 0x1cn,
  H_PUT_TCE: 0x20n,
  H_LOGICAL_CI_LOAD: 0x3cn,
  H_LOGICAL_CI_STORE: 0x40n,
  H_GET_TERM_CHAR: 0x54n,
  H_PUT_TERM_CHAR: 0x58n,
  H_CEDE: 0xe0n,
  H_STUFF_TCE: 0x138n,
  H_PUT_TCE_INDIRECT: 0x13cn,
  H_RTAS: 0xf000n,
} as const;

/** RTAS tokens of QEMU 7.2 (RTAS_TOKEN_BASE 0x2000 plus each call's number, include/hw/ppc/spapr.h). */
export const RTAS_TOKENS = {
  powerOff: 0x2003n,
  writePciConfig: 0x2017n,
  setIndicator: 0x201an,
  query: 0x2026n,
  create: 0x2027n,
  remove: 0x2028n,
  reset: 0x2029n,
} as const;

/** set-indicator's DR isolation state (type 9001): 0 isolated, 1 unisolated (include/hw/ppc/spapr_drc.h). */
export const DR_ISOLATION_STATE = 9001n;
export const DR_ISOLATED = 0n;

/**
 * A PCI slot's DR connector index: its type (PCI: 4) shifted 28, over the PHB's index, the bus's
 * chassis (0 for the root bus) and the devfn (spapr_drc_index, drc_id_from_devfn).
 */
export const pciDrcIndex = (phbIndex: number, slot: number) => (4n << 28n) | (BigInt(phbIndex) << 16n) | (BigInt(slot) << 3n);
