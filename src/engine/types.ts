// What crosses into the engine: machine configuration and operations. No syntax here.

export type Capability = "spapr_tce" | "spapr_tce_64" | "spapr_tce_vfio" | "multi_tce";
export type { ProfileName } from "../profile-names.js";

export interface MachineConfig {
  accel: "kvm" | "tcg";
  caps: readonly Capability[];
  /** The guest's RAM (`machine … ram SIZE`); DEFAULT_GUEST_RAM when the spec does not say. */
  ram?: bigint;
}

/**
 * The guest's RAM when the spec does not say: 512 MiB, what the real backends give a guest (the
 * qemu backend's -m, L2's in L1). KVM's H_PUT_TCE_INDIRECT translates each TCE's address, so what
 * lies past the RAM is an answer of its own.
 */
export const DEFAULT_GUEST_RAM = 0x2000_0000n;
/** pseries RAM comes in blocks of 256 MiB (SPAPR_MEMORY_BLOCK_SIZE): QEMU refuses any other size. */
export const GUEST_RAM_BLOCK = 0x1000_0000n;

/** A PHB's default window as QEMU makes it when the spec does not say: 1 GiB of 4 KiB pages. */
export const DEFAULT_DMA32 = 1n << 30n;
export const DEFAULT_PAGE_SHIFT = 12;

export interface PhbConfig {
  name: string;
  index: number;
  /** Size of the default 32-bit window (window 0). */
  dma32: bigint;
  pageShift: number;
  ddw: boolean;
}

export type DeviceKind = "vfio" | "emulated";

/** An operation the guest or the management layer performs. */
export type Operation =
  | { kind: "put_tce"; liobn: bigint; ioba: bigint; tce: bigint }
  | { kind: "get_tce"; liobn: bigint; ioba: bigint }
  | { kind: "stuff_tce"; liobn: bigint; ioba: bigint; tce: bigint; count: bigint }
  | { kind: "put_tce_indirect"; liobn: bigint; ioba: bigint; tces: readonly bigint[]; listAddress: bigint }
  | { kind: "create_window"; phbIndex: number; pageSize: bigint; windowSize: bigint }
  | { kind: "remove_window"; liobn: bigint }
  | { kind: "reset_windows"; phbIndex: number }
  | { kind: "query_window"; phbIndex: number }
  | { kind: "dma"; device: string; access: "read" | "write"; ioba: bigint }
  | { kind: "plug"; device: DeviceKind; name: string; phbIndex: number }
  | { kind: "unplug"; name: string }
  | { kind: "add_phb"; phb: PhbConfig }
  | { kind: "reset" }
  | { kind: "migrate" };

export const HCALL_RC = {
  H_SUCCESS: 0n,
  H_HARDWARE: -1n,
  H_FUNCTION: -2n,
  H_PRIVILEGE: -3n,
  H_PARAMETER: -4n,
  H_P2: -55n,
  H_P3: -56n,
  H_P4: -57n,
  H_TOO_HARD: 9999n,
} as const;
export type HcallRc = keyof typeof HCALL_RC;

export const RTAS_STATUS = {
  RTAS_OK: 0n,
  RTAS_HW_ERROR: -1n,
  RTAS_BUSY: -2n,
  RTAS_PARAM_ERROR: -3n,
  RTAS_NOT_SUPPORTED: -3n,
} as const;
export type RtasStatus = keyof typeof RTAS_STATUS;

/** What an operation answered. `code` is a hypercall return code or RTAS status name. */
export type Outcome =
  | { kind: "hcall"; code: HcallRc; value?: bigint }
  | { kind: "rtas"; code: RtasStatus; liobn?: bigint; busOffset?: bigint; free?: number; pageMask?: bigint }
  /** A DMA lands at `address`, or faults; a real backend may say it could not see which (`unseen`, why). */
  | { kind: "dma"; address?: bigint; unseen?: string }
  | { kind: "migrate"; ok: boolean }
  | { kind: "done" };

export { buidOf, DMA64_WINDOW_ADDR, liobnOf, MAX_WINDOWS, TCE_READ, TCE_RW, TCE_WRITE } from "../papr.js";

/** One stretch of a table where the guest view and the hardware table each hold one value. */
export interface PictureRow {
  /** The bus address of the stretch's first entry, and how many entries it spans. */
  ioba: bigint;
  count: number;
  guest: bigint;
  /** What the hardware table holds there (0: unmapped); undefined without a hardware table. */
  hw?: bigint;
  /** The hardware table does not hold what the guest view calls for. */
  differs: boolean;
}

/** A table as it stands: where it lives, and its mapped stretches in both views. */
export interface TablePicture {
  liobn: bigint;
  phbIndex: number;
  window: number;
  placement: "kvm" | "userspace";
  windowSize: bigint;
  pageSize: bigint;
  hardware: boolean;
  rows: PictureRow[];
  /** Stretches left out past the picture's limit. */
  more: number;
}
