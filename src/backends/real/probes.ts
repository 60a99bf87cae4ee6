// Probes: how a real machine answers an expectation the guest cannot just call for — a window's
// geometry, where a table lives, how many windows, what a device's DMA did, the hardware table.
import type { Probe } from "../../compile/program.js";
import type { Outcome } from "../../engine/types.js";
import { DMA64_WINDOW_ADDR, HCALL, liobnOf, MAX_WINDOWS, phbOfLiobn, TCE_READ, TCE_RW, TCE_WRITE, WINDOW_BASES, windowOfLiobn } from "../../papr.js";
import { geometry, hex } from "../../values.js";
import { unreachable } from "../../unreachable.js";
import { unseen } from "../../verdict/outcome.js";
import type { EduDevice } from "../guest/guest.js";
import { entryFrom, type ProbeAnswer, type VfioProbes } from "../guest/vfio-probe.js";
import { existenceCalls, get, put } from "./calls.js";
import { codeOf, succeeded, valueOf, type Answer, type HostView, type MachineTraits, type PlannedStep } from "./traits.js";

const U64_LIMIT = 1n << 64n;
const MARKER = 0x7ee0_0000_0003n;

/** The DMA's answer from the translation QEMU made for it: where it landed, or a fault. */
export function dmaOutcome(view: HostView, access: "read" | "write", ioba: bigint): Outcome {
  const need = access === "read" ? 1 : 2;
  const xlate = view.xlates.find((x) => WINDOW_BASES.some((base) => ioba - base === x.offset));
  if (!xlate || (xlate.perm & need) === 0) return { kind: "dma" };
  return { kind: "dma", address: xlate.page | (ioba & xlate.mask) };
}

/** The smallest TCE page there is: no table has pages smaller than 4K. */
const SMALLEST_PAGE = 0x1000n;

/**
 * table(T) size S page P [offset O], read by the guest at page-aligned IOBAs only (KVM answers
 * H_PARAMETER to an IOBA not aligned to its table's page; QEMU rounds it down): the window starts
 * at B, its last page at B+S-P is in it and B+S is not; a marker put at B is not read back at B+P
 * (pages not larger than P), and B+P/2 either holds the marker too (QEMU: the same page) or is
 * refused as unaligned (KVM): pages not smaller than P. Then the entry at B gets its old value
 * back. Every candidate base is probed; the first that holds a window is the answer.
 */
function geometryProbe(liobn: bigint, size: bigint, page: bigint, offset: bigint | undefined, withOffset: boolean): PlannedStep {
  const bases = offset === undefined ? WINDOW_BASES : [offset];
  const groups = bases.map((base) => {
    const calls = [get(liobn, base, true), get(liobn, base + size - page)];
    const past = base + size < U64_LIMIT;
    if (past) calls.push(get(liobn, base + size));
    calls.push(put(liobn, base, MARKER));
    const halfPage = page > SMALLEST_PAGE;
    if (halfPage) calls.push(get(liobn, base + page / 2n));
    const nextPage = page < size;
    if (nextPage) calls.push(get(liobn, base + page));
    calls.push({ kind: "hcall", opcode: HCALL.H_PUT_TCE, args: [liobn, base, 0n], savedAsArg: 2 });
    return { base, calls, past, halfPage, nextPage };
  });
  const pages = (p: bigint) => geometry(0n, p).replace("size 0 ", "");
  return {
    calls: groups.flatMap((g) => g.calls),
    read: (outcomes) => {
      let at = 0;
      for (const g of groups) {
        const o = outcomes.slice(at, at + g.calls.length);
        at += g.calls.length;
        if (!succeeded(o[0])) continue;
        let i = 1;
        const end = o[i++];
        const beyond = g.past ? o[i++] : undefined;
        i++; // the marker put
        const half = g.halfPage ? o[i++] : undefined;
        const otherPage = g.nextPage ? o[i++] : undefined;
        if (!succeeded(end))
          return `a window at ${hex(g.base)} smaller than ${geometry(size, page)} (its last page, at ${hex(g.base + size - page)}: ${codeOf(end)})`;
        if (succeeded(beyond)) return `a window at ${hex(g.base)} larger than ${geometry(size, page)}`;
        // A page of its own at B+P/2: the pages are smaller. Refused there (KVM: unaligned) or the marker: not.
        if (half && succeeded(half) && valueOf(half) !== MARKER) return `a window at ${hex(g.base)} with pages smaller than ${pages(page)}`;
        if (otherPage && valueOf(otherPage) === MARKER) return `a window at ${hex(g.base)} with pages larger than ${pages(page)}`;
        if (otherPage && !succeeded(otherPage))
          return `a window at ${hex(g.base)} with pages larger than ${pages(page)} (no entry at ${hex(g.base + page)}: ${codeOf(otherPage)})`;
        return geometry(size, page, withOffset ? g.base : undefined);
      }
      return "absent";
    },
  };
}

export function probeStep(probe: Exclude<Probe, { kind: "operation" }>, traits: MachineTraits): PlannedStep | string {
  switch (probe.kind) {
    case "guest":
      return {
        calls: [get(probe.liobn, probe.ioba)],
        read: ([o]) => (succeeded(o) ? hex(valueOf(o) ?? 0n) : `no entry (${codeOf(o)})`),
      };
    case "windows": {
      // Read, not computed: each of the PHB's LIOBNs is asked whether a window answers at one of
      // the bases QEMU gives windows (with ddw off too, where RTAS would refuse the query).
      const liobns = Array.from({ length: MAX_WINDOWS }, (_, window) => liobnOf(probe.phbIndex, window));
      const calls = liobns.map(existenceCalls);
      return {
        calls: calls.flat(),
        read: (answers) => String(calls.filter((_, w) => answers.slice(w * WINDOW_BASES.length, (w + 1) * WINDOW_BASES.length).some(succeeded)).length),
      };
    }
    case "placement":
      return traits.placement(probe.liobn);
    case "host":
      // Seen, not assumed: the guest prints a mark here and the host reads it, so the host was up
      // past this point. A crash before the mark makes this the step that was running, and the
      // pipeline answers it "crashed" (real/crash.ts).
      // At exit: nothing the guest can print; the judge answers from what the run reported (real/judge.ts).
      if (probe.atExit) return { calls: [], read: () => "ok" };
      return { calls: [{ kind: "mark" }], read: () => "ok" };
    case "geometry":
      return geometryProbe(probe.liobn, probe.windowSize, probe.pageSize, probe.offset, probe.withOffset);
    case "hw-entry":
    case "hw-state":
      return "internal: hw(…) is planned with the devices";
    case "vfio":
      if (!traits.vfio) return "vfio(…): there is no vfio-pci device here";
      return { calls: [{ kind: "mark" }], read: ([view]) => ((view as HostView).vfioPhbs.has(probe.phbIndex) ? "yes" : "no") };
    case "notifiers": {
      if (!traits.notifiers) return "notifiers(…): IOMMU notifiers are not visible to the guest";
      if (traits.notifiers === "by-table")
        return { calls: [{ kind: "mark" }], read: ([view]) => String((view as HostView).notifiers.byLiobn.get(probe.liobn) ?? 0) };
      // QEMU puts window 0 at bus offset 0 and window 1 at 2^59; the trace names a window by its range.
      const base = windowOfLiobn(probe.liobn) === 0 ? 0n : DMA64_WINDOW_ADDR;
      return { calls: [{ kind: "mark" }], read: ([view]) => String((view as HostView).notifiers.byBase.get(base) ?? 0) };
    }
    default:
      return unreachable(probe);
  }
}

/** H_GET_TCE's answer at an IOBA outside every window of the table's LIOBN. */
const outside = (answer: Answer | undefined) => codeOf(answer) === "H_PARAMETER";

/** At most this many IOBAs are probed for `hw(T) in_sync`: each costs two DMA probes. */
const MAX_SYNC_PROBES = 16;

/**
 * hw(T, IOBA) and hw(T) in_sync|absent: the hardware table is read through the PHB's vfio-pci
 * device (see vfio-probe.ts): a read and a write probe at each IOBA. Without a device there is no
 * hardware table, which the host confirms at a mark.
 */
export function hardwareStep(
  probe: Extract<Probe, { kind: "hw-entry" | "hw-state" }>,
  devices: ReadonlyMap<string, EduDevice>,
  probes: VfioProbes,
  traits: MachineTraits,
): PlannedStep | string {
  if (!traits.vfio) return "hw(…): there is no vfio-pci device, so no hardware table";
  const phbIndex = phbOfLiobn(probe.liobn);
  const device = [...devices.values()].find((d) => d.vfio && d.phbIndex === phbIndex);
  if (!device)
    return {
      calls: [{ kind: "mark" }],
      read: ([view]) => ((view as HostView).vfioPhbs.has(phbIndex) ? "a vfio-pci device the spec did not plug is on the PHB" : "absent"),
    };
  if (!probes.hasDefaultWindow(phbIndex)) return "hw(…): the probe's scratch entry needs the PHB's default window, which the spec removed";
  const pageSize = probes.pageSizeOf(probe.liobn);
  // Whether the entry exists is asked at its page's IOBA: KVM answers H_PARAMETER to an unaligned
  // one (kvm-ioba-aligned), which said "outside the window" for hw(phb0, 0x1001) (found by explore).
  // All of a step's probes in one batch: they share the scratch entry's put, the preload and the write-back.
  const batch = probes.batch();
  const probesAt = (ioba: bigint) => [probes.probe(device, "read", ioba, batch), probes.probe(device, "write", ioba, batch)];
  const getAt = (ioba: bigint) => get(probe.liobn, ioba & ~(pageSize - 1n));
  if (probe.kind === "hw-entry") {
    probes.avoid(probe.liobn, probe.ioba, probe.ioba + 1n);
    const calls = [getAt(probe.ioba), ...probesAt(probe.ioba)];
    return {
      calls,
      read: ([exists, read, write]) => {
        if (!succeeded(exists)) return "outside the window";
        const entry = entryFrom(probes.landing(calls[1]!, read as ProbeAnswer), probes.landing(calls[2]!, write as ProbeAnswer));
        return typeof entry === "string" ? entry : hex(entry);
      },
    };
  }
  const iobas = probes.writtenIn(probe.liobn);
  if (iobas.length > MAX_SYNC_PROBES) return `hw(T) in_sync: the spec wrote ${iobas.length} places in the table; the probes look at ${MAX_SYNC_PROBES} at most`;
  const exists = existenceCalls(probe.liobn);
  // Every IOBA's H_GET_TCE first, then its read and write probes, in one batch.
  const gets = iobas.map(getAt);
  const groups = iobas.map(probesAt);
  /** The answers at one IOBA: its H_GET_TCE's, its read probe's, its write probe's. */
  const at = (answers: Answer[], g: number) => [answers[exists.length + g], answers[exists.length + iobas.length + 2 * g], answers[exists.length + iobas.length + 2 * g + 1]] as const;
  const longStuffs = probes.longStuffsIn(probe.liobn);
  /**
   * Where the hardware table and the guest view differ, at the IOBAs probed, and the IOBAs whose
   * reads could not be seen. A read comes back through the probe's own entry: where the hardware
   * table lacks it (it follows no put, as QEMU 7.2's vfio that never listened: found by explore on
   * PowerNV), only the write halves are seen. A write half that differs is a difference; one that
   * agrees leaves the entry unseen, not out of sync: the probe's own put is not the spec's.
   */
  const compared = (answers: Answer[]) => {
    const differences: string[] = [];
    const unseenAt: bigint[] = [];
    groups.forEach(([readCall, writeCall], g) => {
      const group = at(answers, g);
      // An IOBA the guest view says is outside the window (a put there was refused) is no entry of
      // either table: where a DMA there lands is the PHB's (PowerNV's PHB4 wraps it round to the
      // table's start: found by explore, "0x40000000: 0x1" after a put at IOBA 0).
      if (outside(group[0])) return;
      const guest = succeeded(group[0]) ? (valueOf(group[0]) ?? 0n) : 0n;
      const permission = guest & TCE_RW;
      const expected = permission === 0n ? 0n : (guest & ~(pageSize - 1n)) | permission;
      // As KVM maps it, or as QEMU's vfio does: readable wherever writable (the model's hw-read-with-write).
      const readable = permission & TCE_WRITE ? expected | TCE_READ : expected;
      const read = probes.landing(readCall!, group[1] as ProbeAnswer);
      const write = probes.landing(writeCall!, group[2] as ProbeAnswer);
      const differ = (actual: bigint | string) => differences.push(`${hex(iobas[g]!)}: ${typeof actual === "string" ? actual : hex(actual)}, the guest view calls for ${hex(expected)}`);
      // Only a read whose buffer never came back is left to the writes (one that came back from none
      // of the spec's pages did land: seen, and judged below as any answer).
      if (read.lost && write.unseen === undefined) {
        const writes = write.page === undefined ? 0n : write.page | TCE_WRITE;
        const called = permission & TCE_WRITE ? expected & ~TCE_READ : 0n;
        if (writes === called) unseenAt.push(iobas[g]!);
        else differ(write.page === undefined ? "writes fault" : `writes land in ${hex(write.page)}`);
        return;
      }
      const actual = entryFrom(read, write);
      if (actual !== expected && actual !== readable) differ(actual);
    });
    const missed = groups.map(([, writeCall], g) => probes.scratchMissed(writeCall!, at(answers, g)[2] as ProbeAnswer)).find((m) => m !== undefined);
    return { differences, unseenAt, missed };
  };
  const looked = (answers: Answer[]) => {
    const beyond = iobas.filter((_, g) => outside(at(answers, g)[0]));
    return `probed the ${iobas.length} IOBA${iobas.length === 1 ? "" : "s"} the spec wrote${
      longStuffs.length > 0 ? ` (a stuff of ${longStuffs.join(", ")} entries at its two ends only)` : ""
    }${beyond.length > 0 ? `, ${beyond.map(hex).join(", ")} outside the window (no entry to compare)` : ""}`;
  };
  return {
    calls: [...exists, ...gets, ...groups.flat()],
    read: (answers) => {
      if (!answers.slice(0, exists.length).some(succeeded)) return "absent";
      const { differences, unseenAt, missed } = compared(answers);
      if (differences.length > 0) return { answer: "out_of_sync", note: [looked(answers), ...differences, ...(missed ? [missed] : [])].join("; ") };
      if (unseenAt.length > 0)
        return unseen(`${looked(answers)}; where reads at ${unseenAt.map(hex).join(", ")} land: ${missed ?? "the device's buffer did not come back"} (writes there are as the guest view says)`);
      return { answer: "in_sync", note: looked(answers) };
    },
  };
}

