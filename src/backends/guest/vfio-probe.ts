// A passed-through (vfio-pci) device's DMA, seen from inside the guest. Its translation happens
// in the host's IOMMU (under nested KVM: L0's table for L1's device), where no trace of the
// guest's QEMU reaches, so the guest finds out itself where a DMA landed: it marks every address
// the DMA could land at, lets the device move one byte, and looks. The candidates are the spec's
// own TCEs at the IOBA's offset in their page: a hardware table holds nothing else, stale or not.
// The same probes, at an IOBA, read the hardware table's entry: a read that lands grants read,
// a write that lands grants write, and where they land is the page.
import { GUEST_RAM_BLOCK, type Operation, type PhbConfig } from "../../engine/types.js";
import { DMA64_WINDOW_ADDR, isPhbLiobn, liobnOf, phbOfLiobn, TCE_READ, TCE_WRITE, windowOfLiobn } from "../../papr.js";
import { hex } from "../../values.js";
import { unseen } from "../../verdict/outcome.js";
import { RESUME_ADDR, VFIO_PROBE, type EduDevice, type GuestCall } from "./guest.js";

/** A probe's answer: the two words of its result line. */
export interface ProbeAnswer {
  probe: readonly [bigint, bigint];
}

type ProbeCall = Extract<GuestCall, { kind: "vfio-dma" }>;

/** QEMU loads the guest's image at its kernel-addr, 4 MiB; no probe writes over it. */
const IMAGE = { start: 0x40_0000n, end: 0x80_0000n };
/** The most RAM a guest gets in a pseries L1 (it has 4 GiB), and the step a probe's RAM grows by (pseries' block). */
export const MAX_GUEST_RAM = 0x8000_0000n;
const RAM_STEP = GUEST_RAM_BLOCK;
const U64 = (1n << 64n) - 1n;

interface Candidate {
  address: bigint;
  /** The TCE's page: the address less the IOBA's offset in a page of that size. */
  page: bigint;
}

interface Pending {
  call: ProbeCall & { candidates: bigint[]; scratch: { liobn: bigint; ioba: bigint } };
  phbIndex: number;
  /** The page size of the window that holds the IOBA when the probe is made. */
  pageSize: bigint;
  candidates: Candidate[];
}

/**
 * Where a probe says the DMA landed: an address and its page, or a fault (neither); or why the
 * probe could not see it (`unseen`), which is itself an observation: the hardware table lacks an
 * entry the guest view holds.
 */
export interface Landing {
  address?: bigint;
  page?: bigint;
  unseen?: string;
  /** A read's buffer never came back (the hardware table lacks the probe's own entry): whether it landed is not known either. */
  lost?: true;
}

/** The probes of one spec: what they may land on is known once the whole spec is planned. */
export class VfioProbes {
  private readonly tces = new Set<bigint>();
  private readonly pageSizes = new Set<bigint>([0x1000n]);
  /** Each PHB's windows, slot to page size and entry count, as QEMU numbers them: a new window takes the first free slot. */
  private readonly windows = new Map<number, Map<number, { pageSize: bigint; entries: bigint }>>();
  /** IOBAs the spec wrote in each table, in order: where `hw(T) in_sync` looks. */
  private readonly written = new Map<bigint, bigint[]>();
  /** The counts of the stuffs of more than four entries in each table: looked at only at their ends. */
  private readonly longStuffs = new Map<bigint, bigint[]>();
  private readonly pending: Pending[] = [];
  private batches = 0;
  /** The scratch entry's puts before vfio-pci plugs, by PHB: filled in at `finish`. */
  private readonly prePlugs: { phbIndex: number; call: Extract<GuestCall, { kind: "scratch" }> }[] = [];
  /** Pages of each PHB's default window the spec reads or stuffs over: never the scratch page. */
  private readonly avoided = new Map<number, { from: bigint; to: bigint }[]>();

  constructor(private readonly phbs: ReadonlyMap<number, PhbConfig>) {}

  /** Notes what an operation writes: its TCEs, its IOBAs, a new window's page size. */
  note(operation: Operation): void {
    const write = (liobn: bigint, ioba: bigint, tce: bigint, count: bigint, step: bigint) => {
      this.tces.add(tce);
      if (count > 4n) this.avoid(liobn, ioba, ioba + count * step);
      if (count > 4n) this.longStuffs.set(liobn, [...(this.longStuffs.get(liobn) ?? []), count]);
      // A long stuff is looked at where it starts and ends.
      const iobas = count <= 4n ? Array.from({ length: Number(count) }, (_, i) => ioba + BigInt(i) * step) : [ioba, ioba + (count - 1n) * step];
      for (const at of iobas) this.touch(liobn, at);
    };
    switch (operation.kind) {
      case "put_tce":
        write(operation.liobn, operation.ioba, operation.tce, 1n, 0n);
        break;
      case "get_tce":
        this.avoid(operation.liobn, operation.ioba, operation.ioba + 1n);
        break;
      case "stuff_tce":
        write(operation.liobn, operation.ioba, operation.tce, operation.count, this.pageSizeOf(operation.liobn));
        break;
      case "put_tce_indirect":
        operation.tces.forEach((tce, i) => write(operation.liobn, operation.ioba + BigInt(i) * this.pageSizeOf(operation.liobn), tce, 1n, 0n));
        break;
      case "create_window": {
        this.pageSizes.add(operation.pageSize);
        const slots = this.slotsOf(operation.phbIndex);
        const free = [0, 1].find((slot) => !slots.has(slot));
        if (free !== undefined) slots.set(free, { pageSize: operation.pageSize, entries: operation.windowSize / operation.pageSize });
        break;
      }
      case "remove_window":
        // The PHB's windows as they stand (its default one too, before anything else touched it).
        if (isPhbLiobn(operation.liobn)) this.slotsOf(phbOfLiobn(operation.liobn)).delete(windowOfLiobn(operation.liobn));
        break;
      case "reset_windows":
        this.windows.delete(operation.phbIndex);
        break;
      case "reset":
        this.windows.clear();
        break;
      default:
        break;
    }
  }

  /** A PHB's windows; the default one (slot 0, 4 KiB pages) until the spec says otherwise. */
  private slotsOf(phbIndex: number): Map<number, { pageSize: bigint; entries: bigint }> {
    const slots = this.windows.get(phbIndex) ?? new Map([[0, { pageSize: 0x1000n, entries: (this.phbs.get(phbIndex)?.dma32 ?? 0n) >> 12n }]]);
    this.windows.set(phbIndex, slots);
    return slots;
  }


  /** The page size of the window a table is, as the spec has made its windows so far; 4 KiB when it is not one. */
  pageSizeOf(liobn: bigint): bigint {
    return this.slotsOf(phbOfLiobn(liobn)).get(windowOfLiobn(liobn))?.pageSize ?? 0x1000n;
  }

  /** The page size of the window that holds an IOBA on a PHB: QEMU puts slot 0 at bus offset 0, slot 1 at 2^59. */
  private pageSizeAt(phbIndex: number, ioba: bigint): bigint {
    return this.slotsOf(phbIndex).get(ioba < DMA64_WINDOW_ADDR ? 0 : 1)?.pageSize ?? 0x1000n;
  }

  /** The PHB's window at bus offset 0 (slot 0: the default one, or one created while no window was), if any. */
  windowAtZero(phbIndex: number): { pageSize: bigint; windowSize: bigint } | undefined {
    const w = this.slotsOf(phbIndex).get(0);
    return w && { pageSize: w.pageSize, windowSize: w.pageSize * w.entries };
  }

  /** How many windows the PHB has now. */
  windowCount(phbIndex: number): number {
    return this.slotsOf(phbIndex).size;
  }

  /** The most entries a window of the PHB has now (0 without windows), counted in pages of at most `hostPage` (undefined: its own pages). */
  largestWindow(phbIndex: number, hostPage?: bigint): bigint {
    const inHost = (w: { pageSize: bigint; entries: bigint }) => (hostPage !== undefined && w.pageSize > hostPage ? (w.entries * w.pageSize) / hostPage : w.entries);
    return [...this.slotsOf(phbIndex).values()].reduce((most, w) => (inHost(w) > most ? inHost(w) : most), 0n);
  }

  /** The PHB's default window is there, with 4 KiB pages: the probe's scratch entry lives in it. */
  hasDefaultWindow(phbIndex: number): boolean {
    return this.slotsOf(phbIndex).get(0)?.pageSize === 0x1000n;
  }

  /** The stuffs of more than four entries in a table so far, by count. */
  longStuffsIn(liobn: bigint): readonly bigint[] {
    return this.longStuffs.get(liobn) ?? [];
  }

  /** The IOBAs written so far in a table. */
  writtenIn(liobn: bigint): readonly bigint[] {
    return [...(this.written.get(liobn) ?? [])];
  }

  private touch(liobn: bigint, ioba: bigint): void {
    const list = this.written.get(liobn) ?? [];
    if (!list.includes(ioba)) list.push(ioba);
    this.written.set(liobn, list);
  }

  /** An IOBA range of a table the scratch page must stay out of (the spec reads it, or stuffs over it). */
  avoid(liobn: bigint, from: bigint, to: bigint): void {
    if (!isPhbLiobn(liobn) || windowOfLiobn(liobn) !== 0) return;
    const phbIndex = phbOfLiobn(liobn);
    this.avoided.set(phbIndex, [...(this.avoided.get(phbIndex) ?? []), { from: from & ~0xfffn, to }]);
  }

  /** The scratch entry's put before a vfio-pci plug on the PHB, as a guest call (see GuestCall "scratch"). */
  prePlug(phbIndex: number): GuestCall {
    const call = { kind: "scratch" as const, scratch: { liobn: 0n, ioba: 0n }, used: false };
    this.prePlugs.push({ phbIndex, call });
    return call;
  }

  /** A batch for probes that run together (one step's, on one device): see GuestCall "vfio-dma". */
  batch(): number {
    return this.batches++;
  }

  /** A DMA by the device at the IOBA, as a guest call (a batch of its own unless given one); its candidates and scratch entry come at `finish`. */
  probe(device: EduDevice, access: "read" | "write", ioba: bigint, batch = this.batch()): ProbeCall {
    const call = { kind: "vfio-dma" as const, device, access, ioba, scratch: { liobn: 0n, ioba: 0n }, candidates: [] as bigint[], batch };
    this.pending.push({ call, phbIndex: device.phbIndex, pageSize: this.pageSizeAt(device.phbIndex, ioba), candidates: [] });
    return call;
  }

  /**
   * Fills in every probe's candidates and scratch entry. Returns the guest RAM the candidates
   * need (`ram` at least; `maxRam` at most, where the target has a limit), or why the probes
   * cannot be made.
   */
  finish(ram: bigint, maxRam?: bigint): { ram: bigint } | { unsupported: string } {
    // One scratch page per PHB, for all its probes.
    const scratches = new Map<number, bigint | undefined>();
    for (const p of this.pending) {
      const seen = new Set<bigint>();
      for (const tce of this.tces) {
        // The window's own page size first: an address reached with two sizes keeps that page.
        for (const size of [p.pageSize, ...this.pageSizes]) {
          const page = tce & ~(size - 1n) & U64;
          const address = page | (p.call.ioba & (size - 1n));
          if (seen.has(address)) continue;
          seen.add(address);
          if (address >= IMAGE.start && address < IMAGE.end)
            return { unsupported: `dma: the TCE ${hex(tce)} points into the guest's own image (${hex(IMAGE.start)}–${hex(IMAGE.end - 1n)}), which a DMA probe would overwrite` };
          if (address >> 12n === RESUME_ADDR >> 12n) return { unsupported: `dma: the TCE ${hex(tce)} points at the guest's resume note (${hex(RESUME_ADDR)})` };
          // Past what a guest here can have there is no memory for the probe to look at.
          if (maxRam !== undefined && address >= maxRam)
            return { unsupported: `dma: the TCE ${hex(tce)} points past the most guest RAM a probe has here (${hex(maxRam)}), where it cannot look` };
          while (address >= ram) ram += RAM_STEP;
          p.candidates.push({ address, page });
        }
      }
      if (p.candidates.length > VFIO_PROBE.maxCandidates)
        return { unsupported: `dma: ${p.candidates.length} places a DMA could land, a probe tells at most ${VFIO_PROBE.maxCandidates} apart` };
      p.call.candidates.push(...p.candidates.map((c) => c.address));
      if (!scratches.has(p.phbIndex)) scratches.set(p.phbIndex, this.scratchFor(p.phbIndex));
      const scratch = scratches.get(p.phbIndex);
      if (scratch === undefined) return { unsupported: "dma: no free page in the default window for the probe's scratch entry" };
      p.call.scratch.liobn = liobnOf(p.phbIndex, 0);
      p.call.scratch.ioba = scratch;
    }
    // Before a plug, the same entry the PHB's probes use; none where no probe needs one.
    for (const { phbIndex, call } of this.prePlugs) {
      const scratch = scratches.get(phbIndex);
      if (scratch === undefined) continue;
      call.scratch.liobn = liobnOf(phbIndex, 0);
      call.scratch.ioba = scratch;
      call.used = true;
    }
    return { ram };
  }

  /** The highest page of the PHB's default window that the spec never writes nor makes a DMA at. */
  private scratchFor(phbIndex: number): bigint | undefined {
    const iobas = [
      ...(this.written.get(liobnOf(phbIndex, 0)) ?? []),
      ...this.pending.filter((p) => p.phbIndex === phbIndex && p.call.ioba < DMA64_WINDOW_ADDR).map((p) => p.call.ioba),
    ];
    const used = new Set(iobas.map((ioba) => ioba >> 12n));
    const ranges = this.avoided.get(phbIndex) ?? [];
    const free = (page: bigint) => !used.has(page) && !ranges.some((r) => page << 12n >= r.from && page << 12n < r.to);
    const dma32 = this.phbs.get(phbIndex)?.dma32 ?? 0n;
    for (let page = (dma32 >> 12n) - 1n; page >= 0n && page > (dma32 >> 12n) - 4096n; page--) if (free(page)) return page << 12n;
    return undefined;
  }

  /**
   * Where a probe's DMA landed, from its result line. A read comes back through the scratch entry:
   * when it does not, the hardware table lacks that entry (the guest view holds it), and where the
   * read went is unseen. A write is seen in the candidates themselves (any byte but the fill), with
   * or without the scratch entry.
   */
  landing(call: GuestCall, answer: ProbeAnswer): Landing {
    const p = this.pending.find((q) => q.call === call);
    if (!p) throw new Error("internal: an answer for a probe that was not planned");
    const [first] = answer.probe;
    const at = (k: number): Landing => ({ address: p.candidates[k]!.address, page: p.candidates[k]!.page });
    const stale = `the hardware table lacks the probe's own entry at ${hex(p.call.scratch.ioba)}, which the guest view holds`;
    if (p.call.access === "read") {
      const byte = Number(first & 0xffn);
      if (byte === VFIO_PROBE.sentinel) return { unseen: `the device's buffer did not come back: ${stale}`, lost: true };
      if (byte === VFIO_PROBE.preload || byte === 0) return {};
      const k = byte - VFIO_PROBE.tag;
      if (k >= 0 && k < p.candidates.length) return at(k);
      return { unseen: `the device read ${hex(BigInt(byte))}, from none of the spec's pages` };
    }
    const hits = p.candidates.map((_, k) => k).filter((k) => ((first >> BigInt(k)) & 1n) === 1n);
    if (hits.length > 1) return { unseen: `the byte landed at ${hits.length} of the spec's pages` };
    return hits.length === 1 ? at(hits[0]!) : {};
  }

  /** Whether a write probe's batch carried its check byte in and out through the scratch entry (the second word): if not, the hardware table lacks that entry. */
  scratchMissed(call: GuestCall, answer: ProbeAnswer): string | undefined {
    const p = this.pending.find((q) => q.call === call);
    if (!p || p.call.access !== "write" || Number(answer.probe[1] & 0xffn) === VFIO_PROBE.preload) return undefined;
    return `the hardware table lacks the probe's own entry at ${hex(p.call.scratch.ioba)}, which the guest view holds`;
  }
}

/** The hardware table's entry that read and write probes at one IOBA show: the page and the permissions that landed, or 0. */
export function entryFrom(read: Landing, write: Landing): bigint | string {
  if (read.unseen !== undefined || write.unseen !== undefined)
    return unseen(
      `${[read.unseen, write.unseen].filter((u) => u !== undefined).join("; ")}${write.page !== undefined ? ` (writes land in ${hex(write.page)})` : write.unseen === undefined ? " (writes fault)" : ""}`,
    );
  if (read.page !== undefined && write.page !== undefined && read.page !== write.page)
    return `reads land in ${hex(read.page)}, writes in ${hex(write.page)}`;
  const page = read.page ?? write.page;
  if (page === undefined) return 0n;
  return page | (read.page !== undefined ? TCE_READ : 0n) | (write.page !== undefined ? TCE_WRITE : 0n);
}
