// The console protocol between tcespec and a real machine, written and read here only: the
// markers the guest prints (begin, end, marks, host steps), the lines a batch script prints (each
// guest's run and end, its QEMU's exit, each host step's report, what software ran it), QEMU's
// trace lines that stand among them, and the readers of all of it.
import type { Outcome } from "../../engine/types.js";
import type { CrashReport } from "../../verdict/outcome.js";
import { constants } from "node:os";
import type { HostView, Xlate } from "./traits.js";

export const BEGIN_MARKER = "TCESPEC-BEGIN";
export const END_MARKER = "TCESPEC-END";
/** Printed on a line of its own where the host is to look at the machine from outside. */
export const MARK = "TCESPEC-MARK";
/** Printed where the host is to act on the machine (reset it, migrate it); the guest then waits. */
export const HOST_STEP = "TCESPEC-HOST";

/**
 * What a batch script prints around its guests (kvm/l1.ts writes them, this module reads them):
 * a guest's start and end, its last QEMU's exit status, each host step's report; and what L1's
 * init prints (kvm/image.ts): ready, an error, done.
 */
export const BATCH = {
  run: "TCESPEC-RUN",
  done: "TCESPEC-DONE",
  qemuExit: "TCESPEC-QEMU-EXIT",
  act: "TCESPEC-ACT",
  /** An L1 that is handed its guests one at a time asks for the next (kvm/l1.ts): the host answers its index, or `end`. */
  next: "TCESPEC-NEXT",
  monitorLog: "TCESPEC-MONITOR-LOG",
  klog: "TCESPEC-KLOG",
  klogEnd: "TCESPEC-KLOG-END",
  /** After a guest: khugepaged had not let go of its QEMU's memory within the wait (l1.ts SETTLE). */
  unsettled: "TCESPEC-UNSETTLED",
  l1Ready: "TCESPEC-L1-READY",
  l1Error: "TCESPEC-L1-ERROR",
  l1Done: "TCESPEC-L1-DONE",
} as const;

/**
 * How long each guest of a batch took on L1's clock, in the order they ended: the uptimes its
 * start and end markers carry (kvm/l1.ts prints `/proc/uptime` after the guest's index, and after
 * its exit status at the end). Read from L1's console (the bench times guests this way).
 */
export function guestSeconds(text: string): number[] {
  const started = new Map<string, number>();
  const seconds: number[] = [];
  const marker = new RegExp(`(${BATCH.run}|${BATCH.done}) (\\d+) (?:-?\\d+ )?([\\d.]+) `, "g");
  for (const [, which, guest, uptime] of text.matchAll(marker)) {
    if (which === BATCH.run) started.set(guest!, Number(uptime));
    else if (started.has(guest!)) seconds.push(Number(uptime) - started.get(guest!)!);
  }
  return seconds;
}

/**
 * L1's kernel log as a second, ordered copy of the guest's console. L1 boots \`quiet\`, so a WARN
 * never reaches the console, and with warnings on its lines would land in the middle of the
 * guest's (the console is shared, and written 16 bytes at a time). Instead each line the guest
 * prints is copied into the kernel log (/dev/kmsg) by its QEMU as QEMU writes it, before the vCPU
 * runs on (kvm/caps.ts), and each host step's report by the batch (the guest waits for it): a
 * WARN a hypercall caused is logged inside the hypercall, after the lines the guest printed before
 * the call and before the one it printed after. After the guest, a log that holds a WARN is
 * printed whole between BATCH.klog and BATCH.klogEnd.
 */
export const KMSG_COPY = "tcespec: ";

/** Two 64-bit values per line: signed for return codes, unsigned for values. */
export function parseLine(line: string): [bigint, bigint] {
  if (!/^[0-9a-f]{32}$/.test(line)) throw new Error(`unreadable guest output line '${line.slice(0, 40)}'`);
  return [BigInt.asIntN(64, BigInt(`0x${line.slice(0, 16)}`)), BigInt(`0x${line.slice(16)}`)];
}

/** What the guest printed (its result lines), what the host saw at each mark, and what each host step answered, in order. */
export interface GuestOutput {
  lines: string[];
  marks: HostView[];
  host: Outcome[];
  /** Host steps that failed, in the host's words. */
  failures?: string[];
}

/** QEMU's trace of a new TCE table (`-trace spapr_iommu_new_table`): fd ≥ 0 is a table KVM holds. */
const NEW_TABLE = /spapr_iommu_new_table liobn=(0x[0-9a-f]+) table=\S+ fd=(-?\d+)/;
export const TABLE_TRACE = "spapr_iommu_new_table";
/** QEMU's trace of each translation for a device: liobn, offset in the window, page, permission, mask. */
const XLATE = /spapr_iommu_xlate liobn=(?:0x)?([0-9a-f]+) 0x([0-9a-f]+) -> 0x([0-9a-f]+) perm=(\d+) mask=(?:0x)?([0-9a-f]+)/;
/** A result line: two 64-bit values in hex. Anything else in the stream is QEMU's (warnings, a device's own prints). */
const RESULT = /^[0-9a-f]{32}$/;
export const XLATE_TRACE = "spapr_iommu_xlate";
/**
 * vfio's listener: it registers an IOMMU notifier for each IOMMU region it is told of (region_add
 * [iommu]) and unregisters it when the region goes. QEMU 7.2 gives the range only, and its
 * region_del is the one RAM sections print too (only a range added as an IOMMU region counts);
 * QEMU 10.0 names the region (tce-iommu-LIOBN) in both, with a region_del of its own.
 */
export const NOTIFIER_TRACES = ["vfio_listener_region_add_iommu", "vfio_listener_region_del*"];
const NOTIFIER_ADD = /vfio_listener_region_add_iommu region_add \[iommu\] (?:tce-iommu-([0-9a-f]+) )?0x([0-9a-f]+) - 0x([0-9a-f]+)/;
const NOTIFIER_DEL = /vfio_listener_region_del region_del 0x([0-9a-f]+) - 0x([0-9a-f]+)/;
const NOTIFIER_DEL_NAMED = /vfio_listener_region_del_iommu region_del \[iommu\] tce-iommu-([0-9a-f]+)/;
/** L1's report of a host step (see kvm/l1.ts). */
const ACT = new RegExp(`^${BATCH.act} (\\d+) (plugged|unplugged|added|reset|migrated|blocked|failed)(?: (\\S+))?(?: (\\d+))?`);

/**
 * The guest's result lines after its begin marker, and at each mark the tables KVM held then,
 * from the trace lines QEMU wrote into the same stream before it (the default window's table
 * is made before the guest starts, so before the marker).
 */
export function readGuestOutput(text: string, given: Outcome[] = []): GuestOutput {
  // L1's kernel prints on the console the guest's QEMU writes to, and a record can land inside
  // one of its lines (the guest's characters come a few at a time): seen, L1's pseries IOMMU code
  // saying "spapr_tce_create_table: Calling query …" in the middle of a trace line, then of a
  // result line. Each record is taken out whole, with its newline, wherever it is; PowerNV's
  // firmware's too.
  text = withoutRecords(text);
  const host = [...given];
  const failures: string[] = [];
  const lines: string[] = [];
  const marks: HostView[] = [];
  const kvm = new Set<bigint>();
  const vfio = new Map<string, number>();
  let xlates: Xlate[] = [];
  /** Live notifiers by their range ("start-end", QEMU 7.2) and by LIOBN (QEMU 10.0). */
  const listening = new Map<string, number>();
  const byLiobn = new Map<bigint, number>();
  const count = <K>(map: Map<K, number>, key: K, by: number) => {
    const n = (map.get(key) ?? 0) + by;
    if (n > 0) map.set(key, n);
    else map.delete(key);
  };
  let begun = !text.includes(BEGIN_MARKER);
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line.length === 0) continue;
    if (line === BEGIN_MARKER) {
      begun = true;
      continue;
    }
    const table = NEW_TABLE.exec(line);
    const xlate = XLATE.exec(line);
    const act = ACT.exec(line);
    const added = NOTIFIER_ADD.exec(line);
    const deleted = NOTIFIER_DEL.exec(line);
    const deletedNamed = NOTIFIER_DEL_NAMED.exec(line);
    if (added) {
      if (added[1] !== undefined) count(byLiobn, BigInt(`0x${added[1]}`), 1);
      else count(listening, `${added[2]}-${added[3]}`, 1);
    } else if (deletedNamed) count(byLiobn, BigInt(`0x${deletedNamed[1]}`), -1);
    else if (deleted) {
      if (listening.has(`${deleted[1]}-${deleted[2]}`)) count(listening, `${deleted[1]}-${deleted[2]}`, -1);
    } else if (act) {
      // What L1 did at a host step: plugged NAME PHB, unplugged NAME, added NAME, reset, migrated,
      // blocked: why (QEMU refused the migration, an answer), or failed: why (an error).
      const [, step, what, name, phb] = act;
      if (what === "plugged") vfio.set(name!, Number(phb));
      if (what === "unplugged") vfio.delete(name!);
      // A migration that completed or was refused answers `expect migrate == ok|blocked`.
      host.push(
        what === "failed" || what === "blocked" ? { kind: "migrate", ok: false } : what === "migrated" ? { kind: "migrate", ok: true } : { kind: "done" },
      );
      // Step K's words: "host step K failed: …", as whyUnfinished says it.
      if (what === "failed") failures.push(`host step ${step} ${line.slice(line.indexOf("failed"))}`);
    } else if (xlate) {
      const [, liobn, offset, page, perm, mask] = xlate;
      xlates.push({ liobn: BigInt(`0x${liobn}`), offset: BigInt(`0x${offset}`), page: BigInt(`0x${page}`), perm: Number(perm), mask: BigInt(`0x${mask}`) });
    } else if (table) {
      if (Number(table[2]) >= 0) kvm.add(BigInt(table[1]!));
      else kvm.delete(BigInt(table[1]!));
    } else if (!begun) continue;
    else if (line === MARK) {
      const byBase = new Map<bigint, number>();
      for (const [range, n] of listening) count(byBase, BigInt(`0x${range.slice(0, range.indexOf("-"))}`), n);
      marks.push({ kvmTables: new Set(kvm), xlates, vfioPhbs: new Set(vfio.values()), notifiers: { byBase, byLiobn: new Map(byLiobn) } });
      xlates = [];
    }
    else if (RESULT.test(line)) lines.push(line);
  }
  return { lines, marks, host, failures };
}

/**
 * QEMU's last error lines in what it printed (its warnings left out), joined on one line: its
 * error reports and assertions ("qemu-system-ppc64: …"), hw_error's ("qemu: hardware error: …")
 * and the C library's on a corrupted heap ("free(): invalid pointer", "double free or corruption").
 * Each is read from where it starts in its line: an assertion that fires on another thread can
 * land after some of the guest's characters.
 */
export function lastWords(text: string): string {
  return withoutRecords(text)
    .split("\n")
    .flatMap((l) => {
      const at = LAST_WORDS.exec(l);
      return at && !l.includes("warning:") ? [l.slice(at.index)] : [];
    })
    .filter((l, k, all) => l !== all[k - 1])
    .slice(-3)
    .join(" | ");
}

/**
 * Where QEMU's last words start in a line: its own errors, a hardware error, the C library's heap
 * reports, and GLib's failed assertions (g_assert: "ERROR:../../qom/object.c:1196:object_unref:
 * assertion failed: (obj->ref > 0)", printed again after "Bail out! ").
 */
const LAST_WORDS = /qemu-system-ppc64: |qemu: hardware error: |(?:free|malloc|realloc|munmap_chunk|malloc_consolidate)\(\): |double free or corruption|corrupted (?:size|double-linked list)|ERROR:[^\s:]+:\d+:\w+: /;

/**
 * What a guest's QEMU printed up to the guest's end marker (trace lines included); or what it
 * printed before real software crashed under it, and the crash; or why it did not finish
 * (`notRun`: it never started, because the machine stopped before its turn).
 */
export type GuestResult = { body: string; warning?: KernelWarning; unsettled?: string } | { crash: CrashReport; body: string } | { error: string; notRun?: true };

/**
 * Why a guest's `expect host … at exit` is unseen where the batch said BATCH.unsettled: a WARN of
 * its QEMU's memory going (destroy_context) comes from khugepaged's next pass (docs/kernel-bugs.md).
 */
export const UNSETTLED = "khugepaged still held the guest's QEMU's memory 2 s after QEMU exited, so a WARN of its teardown could come later than the kernel log was read";

/** A WARN in L1's kernel log while a guest ran: the report, and the guest's lines logged before it. */
export interface KernelWarning {
  report: CrashReport;
  /** What the guest had printed when the kernel warned, as the console has it (its copies in the log). */
  before: string;
  /**
   * Where the log puts it: among the guest's lines (`before` says where), before its first line
   * (as its QEMU started), or nowhere, as the log holds no copy of the guest's lines at all
   * (QEMU ran without the shim that writes them).
   */
  placed: "among" | "start" | "unplaced";
}

/** A log line's time, and the task or CPU that printed it where the kernel says (CONFIG_PRINTK_CALLER: "[   55.49][  T280] "). */
const LOG_PREFIX = /^\[\s*\d+\.\d+\](?:\[\s*[TC]\d+\])?\s?/;

/** A kernel record on the console, from its time to its newline, wherever it starts. */
const KERNEL_RECORD = /\[\s*\d+\.\d{6}\](?:\[\s*[TC]\d+\])? [^\n]*\n/g;

/**
 * A record of PowerNV's firmware (skiboot, OPAL) on the console: its time in nanoseconds and its
 * level ("[   36.203800211,3] PHB#0000[0:0]: Unexpected slot state 00000104"). It writes to the
 * console itself, in the middle of whatever L1's tty was printing: it comes with the slot reset of
 * a vfio-pci device whose QEMU has just died, while that QEMU's last words are still on their way.
 */
const FIRMWARE_RECORD = /\[\s*\d+\.\d{9},\d\] [^\n]*\n/g;

/** A console's text without the kernel's and the firmware's records, wherever they landed. */
const withoutRecords = (text: string) => text.replace(KERNEL_RECORD, "").replace(FIRMWARE_RECORD, "");

const WARNING = /WARNING: CPU: \d+ PID: \d+ at \S+ (\S+\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[\w+\])?)/;

/** The first WARN in a kernel log the batch printed (dmesg's lines), placed among the guest's copied lines. */
export function kernelWarning(log: string): KernelWarning | undefined {
  const before: string[] = [];
  const lines = log.split("\n").map((l) => l.replace(LOG_PREFIX, ""));
  for (const [k, line] of lines.entries()) {
    if (line.startsWith(KMSG_COPY)) {
      before.push(line.slice(KMSG_COPY.length));
      continue;
    }
    const warned = WARNING.exec(line);
    if (!warned) continue;
    // The report's lines up to the next copy of the guest's (the kernel logs a WARN whole, inside the call).
    const next = lines.findIndex((l, j) => j > k && l.startsWith(KMSG_COPY));
    const report = kernelCrash(lines.slice(k, next < 0 ? undefined : next).join("\n"));
    if (!report) continue;
    // The WARNING line names the function it warned in; the register dump's NIP says the same.
    // Later WARNs of the same guest (a consequence, or another bug) are named, not placed.
    const also = lines.slice(k + 1).flatMap((l) => (WARNING.test(l) ? [l.slice(l.indexOf("WARNING:"))] : []));
    const copied = (line: string) => lines.includes(`${KMSG_COPY}${line}`);
    const placed = before.includes(BEGIN_MARKER) ? "among" : copied(BEGIN_MARKER) ? "start" : "unplaced";
    return { report: { ...report, function: warned[1]!, warning: true, ...(also.length > 0 ? { also } : {}) }, before: `${before.join("\n")}\n`, placed };
  }
  return undefined;
}

/** The line a batch starts with: the kernel (uname -r) and the first line of its QEMU's --version. */
export const SOFTWARE = "TCESPEC-SOFTWARE";
const SOFTWARE_LINE = new RegExp(`${SOFTWARE} (\\S+) ([^\\n]*)`);

/** The line after it: the kernel's /proc/version (its build number and date tell two builds of one release apart). */
export const KERNEL_BANNER = "TCESPEC-PROC-VERSION";
const BANNER_LINE = new RegExp(`${KERNEL_BANNER} ([^\\n]*)`);

/** The line after that: the platform the kernel says it runs on (/proc/cpuinfo's `platform`: PowerNV, pSeries). */
export const PLATFORM = "TCESPEC-PLATFORM";
const PLATFORM_LINE = new RegExp(`${PLATFORM} ([^\\n]*)`);

/** What a batch's console says it ran on: kernel, QEMU, the kernel's banner and platform where it printed them. */
export interface Software {
  kernel: string;
  qemu: string;
  banner?: string;
  platform?: string;
}

export function softwareOf(text: string): Software | undefined {
  const found = SOFTWARE_LINE.exec(text);
  const banner = BANNER_LINE.exec(text)?.[1]?.trim();
  const platform = PLATFORM_LINE.exec(text)?.[1]?.trim();
  return found ? { kernel: found[1]!, qemu: found[2]!.trim(), ...(banner ? { banner } : {}), ...(platform ? { platform } : {}) } : undefined;
}

/** Whether the host kernel crashed under a guest (its L1, or the host, cannot be trusted with the next). */
export function hostKernelCrashed(result: GuestResult): boolean {
  return "crash" in result && result.crash.software === "host kernel";
}

/** Splits L1's console into each guest's result (the text between its begin and end markers). */
export function splitConsole(text: string, count: number, how: ConsoleHow = {}): GuestResult[] {
  return Array.from({ length: count }, (_, i) => guestResult(text, i, how));
}

/** The result of a guest the batch never started. */
export function notRun(how: ConsoleHow = {}): GuestResult {
  return { error: `not run: ${how.stopped ?? "L1 stopped"} before this guest's turn`, notRun: true };
}

export type ConsoleHow = { timeoutMs?: number | readonly number[]; stopped?: string; clock?: string };

/** Guest `i`'s result from a batch's console (splitConsole's, for one guest). */
export function guestResult(text: string, i: number, how: ConsoleHow = {}): GuestResult {
  const start = text.indexOf(`${BATCH.run} ${i} `);
  const done = new RegExp(`${BATCH.done} ${i} (\\d+)[^\\n]*\\n`).exec(text);
  if (start < 0) return notRun(how);
  const whole = text.slice(start, done ? done.index : undefined);
  // The kernel log, where the batch printed it: read for a WARN, and out of the way of the rest.
  const klog = new RegExp(`${BATCH.klog} ${i}\\n([\\s\\S]*?)(?:${BATCH.klogEnd} ${i}\\n|$)`).exec(whole);
  const own = klog ? whole.slice(0, klog.index) + whole.slice(klog.index + klog[0].length) : whole;
  const warning = klog ? kernelWarning(klog[1]!) : undefined;
  const begin = own.indexOf(`${BEGIN_MARKER}\n`);
  const end = own.indexOf(`${END_MARKER}\n`);
  if (done && begin >= 0 && end > begin) {
    // A kernel report while the guest went on (a WARN, KASAN, an oops in another task) is a crash all the same.
    const reported = kernelCrash(own);
    const unsettled = whole.includes(`${BATCH.unsettled} ${i}\n`);
    return reported ? { crash: reported, body: own.slice(0, end) } : { body: own.slice(0, end), ...(warning ? { warning } : unsettled ? { unsettled: UNSETTLED } : {}) };
  }
  const rc = done ? Number(new RegExp(`${BATCH.qemuExit} (\\d+)`).exec(own)?.[1] ?? done[1]) : undefined;
  // A crash of the host kernel first: a step that failed or a QEMU that died with it follows from it.
  const kernel = kernelCrash(own);
  const qemu = kernel ? undefined : rc !== undefined ? qemuCrash(rc - 128, lastWords(own)) : undefined;
  const crash = kernel ?? qemu;
  // A WARN before it is named with the crash, or with why the guest did not finish: never lost.
  const warned = warning ? [warning.report.report, ...(warning.report.also ?? [])] : [];
  // The guest's own timeout (a batch's guests may each have one).
  const timeoutMs = typeof how.timeoutMs === "number" ? how.timeoutMs : how.timeoutMs?.[i];
  if (crash) return { crash: warned.length > 0 ? { ...crash, also: [...warned, ...(crash.also ?? [])] } : crash, body: own };
  return { error: `${whyUnfinished(own, rc, { ...how, timeoutMs })}${warned.length > 0 ? `; the host kernel had warned: ${warned[0]}` : ""}` };
}

/** The first line of a kernel report: an oops, a BUG (KASAN's included), a panic, a WARN. */
const KERNEL_REPORT = /(?:Kernel panic|BUG:|Oops:|kernel BUG at|Unable to handle kernel|WARNING: CPU: \d+ PID: \d+ at )[^\n]*/;

/** Where the first kernel report starts in a console, or -1. */
export function kernelReportAt(text: string): number {
  return KERNEL_REPORT.exec(text)?.index ?? -1;
}

/** A kernel report in a console: its first line, the function it faulted in, and its call trace. */
export function kernelCrash(text: string): CrashReport | undefined {
  const first = KERNEL_REPORT.exec(text);
  if (!first) return undefined;
  const rest = text.slice(first.index);
  // A KASAN report names the function that made the bad access on its first line ("BUG: KASAN:
  // slab-out-of-bounds in kvmppc_tce_put+0x64/0xf8"); an oops on its NIP line.
  const nip = /KASAN: .* in (\S+\+0x[0-9a-f]+\/0x[0-9a-f]+)/.exec(first[0]) ?? /NIP \[[0-9a-f]+\] (\S+)/.exec(rest);
  // "[c000…] [c008…] kvmppc_h_stuff_tce+0x204/0x34c [kvm]", up to the trace's end.
  const traceAt = rest.indexOf("Call Trace:");
  const trace: string[] = [];
  if (traceAt >= 0) {
    for (const line of rest.slice(traceAt).split("\n").slice(1)) {
      const frame = /\] (\S+\+0x[0-9a-f]+\/0x[0-9a-f]+(?: \[\w+\])?)/.exec(line);
      if (!frame) break;
      // The reporting machinery (dump_stack, KASAN's report and its access check) is not where it happened.
      if (trace.length === 0 && /^(dump_stack\w*|show_stack|print_report|kasan_report|__asan_\w+|kasan_\w+)\+/.test(frame[1]!)) continue;
      trace.push(frame[1]!);
      if (trace.length >= 16) break;
    }
  }
  const report = first[0].replace(/^\[\s*\d+\.\d+\]\s*/, "").trim();
  return { software: "host kernel", report, ...(nip ? { function: nip[1]! } : {}), ...(trace.length > 0 ? { trace } : {}) };
}

/** Signals a QEMU dies of when it crashes (not SIGKILL: that is a timeout's, or the user's). */
const CRASH_SIGNALS = ["SIGABRT", "SIGSEGV", "SIGBUS", "SIGILL", "SIGFPE", "SIGTRAP", "SIGSYS"];

/** A QEMU killed by a crash signal (its number), with its last words (an assertion, "hardware error"). */
export function qemuCrash(signal: number | string | null, words: string | undefined): CrashReport | undefined {
  const name = typeof signal === "string" ? signal : Object.entries(constants.signals).find(([, n]) => n === signal)?.[0];
  if (!name || !CRASH_SIGNALS.includes(name)) return undefined;
  return { software: "QEMU", report: words ? `${words} (${name})` : `killed by ${name}` };
}

/**
 * Why a guest did not finish, when no real software crashed (that is a verdict: splitConsole), most
 * telling first: a host step that failed (in QEMU's words), the per-spec timeout, a signal that
 * killed QEMU, QEMU's exit, or L1 going away mid-run (`rc` undefined).
 */
function whyUnfinished(own: string, rc: number | undefined, how: { timeoutMs?: number; stopped?: string; clock?: string }): string {
  const why = lastWords(own);
  const words = why ? `: ${why}` : "";
  /** How QEMU ended, from its exit status: 137 is the per-spec timeout's kill. */
  const ended = (status: number) => {
    if (status === 137) return `timed out after ${how.timeoutMs ?? "the per-spec"} ms${how.clock ? ` ${how.clock}` : ""} (--timeout): the guest did not finish${why ? `; QEMU said: ${why}` : ""}`;
    if (status > 128) {
      const signal = Object.entries(constants.signals).find(([, n]) => n === status - 128)?.[0] ?? `signal ${status - 128}`;
      return `L1's QEMU was killed by ${signal} before the guest finished${words}`;
    }
    return `L1's QEMU exited (code ${status}) before the guest finished${words}`;
  };
  const step = new RegExp(`${BATCH.act} (\\d+) failed: ([^\\n]*)`).exec(own);
  if (step) return `host step ${step[1]} failed: ${step[2]!.trim()}${rc !== undefined && rc !== 0 ? `; ${ended(rc)}` : ""}`;
  if (rc === undefined) return `${how.stopped ?? "L1 stopped"} while this guest ran${words}`;
  return ended(rc);
}

