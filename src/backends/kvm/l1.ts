// One L1 machine for a batch of guests: L0 (QEMU under TCG, as the L1 host says: a pseries
// machine running KVM-HV nested, or a PowerNV one running it natively; hosts.ts) boots the cached
// kernel and initramfs plus a small second archive holding the batch: each guest's ELF and the
// script that runs it with L1's QEMU under -accel kvm. What each guest and its QEMU printed comes
// back over L1's console, between markers the script prints.
import type { ChildProcess } from "node:child_process";
import { appendFileSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { HostStep } from "../real/pipeline.js";
import { BATCH, HOST_STEP, KERNEL_BANNER, KMSG_COPY, kernelReportAt, NOTIFIER_TRACES, PLATFORM, SOFTWARE, softwareOf, splitConsole, guestResult, hostKernelCrashed, notRun, TABLE_TRACE, type ConsoleHow, type GuestResult, type Software } from "../real/console.js";

/** Handed out (runL1's handOut): how long L1 may take, past its guest's own timeout, to ask for the next (or, told to stop, to stop). */
const HAND_OUT_MS = 30_000;
/** How long after a kernel report L1 may take to move on to its next guest before it is stopped. */
const CRASH_GRACE_MS = 5000;
/** Written 1, it re-arms every WARN_ONCE (debugfs). */
const WARN_ONCE = "/sys/kernel/debug/clear_warn_once";
/**
 * khugepaged's knobs. A QEMU's guest RAM (THP, madvised) registers its mm with khugepaged, which
 * keeps a reference to it while its scan rests there: an exited QEMU's mm is then torn down only
 * at khugepaged's next pass, up to scan_sleep_millisecs (10 s) later, and a WARN of that teardown
 * (destroy_context's) lands in the next guest's log or nowhere. Seen on the pseries host: the
 * WARN of specs/hcalls/kvm-linux-6.tce "… after the device's unplug too" came 9 s after QEMU's
 * exit, from khugepaged (collect_mm_slot), in 2 of 4 library runs.
 */
const KHUGEPAGED = "/sys/kernel/mm/transparent_hugepage/khugepaged";
/**
 * Lets khugepaged finish a pass after a guest's QEMU exited, so that the mm it held is torn down
 * (and any WARN of that shows) before the guest's log is read: rewriting its rest wakes it at
 * once, and it has passed once it sleeps again (a voluntary context switch more; at most 2 s).
 * It fails where khugepaged has not: the batch then says BATCH.unsettled, and the guest's `host`
 * at exit is unseen, not `ok`.
 */
const SETTLE = `tcespec_switches() { grep ^voluntary_ctxt_switches /proc/$kh/status 2>/dev/null; }\nkh=$(grep -l "^khugepaged$" /proc/[0-9]*/comm 2>/dev/null | head -1 | cut -d/ -f3)\ntcespec_settle() { [ -n "$kh" ] && [ -w ${KHUGEPAGED}/scan_sleep_millisecs ] || return 0; c=$(tcespec_switches); cat ${KHUGEPAGED}/scan_sleep_millisecs > ${KHUGEPAGED}/scan_sleep_millisecs; t=0; while [ $t -lt 100 ] && [ "$(tcespec_switches)" = "$c" ]; do sleep 0.02; t=$((t+1)); done; [ "$(tcespec_switches)" != "$c" ]; }\n`;
import { CONSOLE_ONLY, EDU_FULL_DMA_MASK, eduOptions, pciAddr, reaped, release } from "../qemu/process.js";
import { cpio, dirEntry, fileEntry } from "./cpio.js";
import { SHIM_PATH, type L1Image } from "./image.js";
import { l1Ram, PSERIES, type L0Program, type L1Host } from "./hosts.js";

export const L2_ARGS = [
  "-M",
  "pseries,x-vof=on",
  "-accel",
  "kvm",
  ...CONSOLE_ONLY,
  // Without it L1's QEMU stops on a missing vgabios-stdvga.bin.
  "-vga",
  "none",
  "-trace",
  TABLE_TRACE,
  ...NOTIFIER_TRACES.flatMap((event) => ["-trace", event]),
  ...EDU_FULL_DMA_MASK,
];

/** A guest for the batch script: the pipeline's job, with what the kvm target made of its spec. */
export interface BatchJob {
  elf: Uint8Array;
  /** QEMU options of the guest's machine (its PHBs). */
  args: string[];
  /** KVM capability numbers the guests' QEMU must not see. */
  hideCaps: number[];
  /** What the guests' QEMU does at each host step the guest announces, in order. */
  steps?: readonly HostStep[];
  /** For each vfio-pci plug among the steps, in order: which of the host's devices it takes ($VFIO_HOST_n, from 1). */
  hosts?: readonly number[];
  /** `tcg`: this guest runs under TCG (a `machine tcg` spec with a vfio-pci device). */
  accel?: "tcg";
  /** Why its host cannot be trusted after it (the pipeline's GuestJob), if so: the next guest gets a fresh L1. */
  spoilsHost?: string;
}

/** Each guest's result and the software the batch ran on (softwareOf), or one error for all. */
export type BatchResult = { results: GuestResult[]; software?: Software } | { error: string };

/** `clock`: whose time a guest's timeout counted, where it is not the wall's (an L1 whose idle time L0 skips). */
/** `ran`: the guests an L1 was handed (runL1's handOut); only theirs are read from its console, the others were not run there. */
function batchResult(text: string, jobs: readonly BatchJob[], timeoutMs: number, stopped?: string, clock?: string, stepMs = 0, ran?: readonly number[]): BatchResult {
  const software = softwareOf(text);
  const how: ConsoleHow = { timeoutMs: jobs.map((job) => guestTimeoutMs(job, timeoutMs, stepMs)), ...(stopped ? { stopped } : {}), ...(clock ? { clock } : {}) };
  const handed = ran && new Set(ran);
  return {
    results: handed ? jobs.map((_, i) => (handed.has(i) ? guestResult(text, i, how) : notRun(how))) : splitConsole(text, jobs.length, how),
    ...(software ? { software } : {}),
  };
}

/**
 * L1 ran out of memory (its OOM killer's line): tcespec sized L1 too small for the batch, so a
 * guest killed or a kernel that panicked afterwards is not the software's verdict but an error
 * of ours, said as one.
 */
function outOfMemory(result: BatchResult, text: string, l1MiB: bigint, order?: readonly number[]): BatchResult {
  const oom = /Out of memory: Killed process \d+ \(([^)]*)\)/.exec(text);
  if (!oom || "error" in result) return result;
  const error = `L1 ran out of memory (it had ${l1MiB} MiB, tcespec's choice for this batch; its OOM killer took ${oom[1]}): not a verdict`;
  // The guest running when the OOM killer struck, and those after it (in the order L1 ran them):
  // the guests before it keep their own results.
  const ran = order ?? result.results.map((_, i) => i);
  const started = ran.map((i) => text.indexOf(`${BATCH.run} ${i} `));
  const during = started.reduce((at, start, k) => (start >= 0 && start < oom.index ? k : at), 0);
  const after = new Set(ran.slice(during));
  const hit = (r: GuestResult) => hostKernelCrashed(r) || ("error" in r && !r.notRun);
  return { ...result, results: result.results.map((r, i) => (after.has(i) && hit(r) ? { error } : r)) };
}

/** A guest's RAM, from its -m (MiB), or 0 where it has none. */
export function guestRam(job: BatchJob): bigint {
  const m = job.args.includes("-m") ? job.args[job.args.indexOf("-m") + 1] : undefined;
  return m && /^\d+M$/.test(m) ? BigInt(m.slice(0, -1)) << 20n : 0n;
}

/**
 * A guest's timeout: the per-spec one, 10 s more for each GiB of RAM past 2 GiB (a vfio-pci
 * plug pins all of it, and L1 under TCG clears every page first: a 9 GiB guest's plug took most
 * of a minute on the PowerNV host with two L1s running), and `stepMs` more for each host step
 * (the host's own: an explorer's machine of 8 scenarios took 20 steps and 66 s of L1's time on
 * the PowerNV host, each vfio-pci plug, unplug and reset of one a slot reset of 2 to 6 s).
 */
export function guestTimeoutMs(job: BatchJob, timeoutMs: number, stepMs = 0): number {
  const beyond = guestRam(job) - (2n << 30n);
  return timeoutMs + (beyond > 0n ? Math.ceil(Number(beyond >> 20n) / 1024) * 10_000 : 0) + stepMs * (job.steps?.length ?? 0);
}

export interface L1Options {
  /** The machine L1 is (hosts.ts; default: pseries) and L0's program (default: the host's own choice). */
  host?: L1Host;
  l0?: L0Program;
  /** Per guest, inside L1. */
  timeoutMs: number;
  /** From L0's start to L1's READY line. */
  bootTimeoutMs: number;
  /** Cpios to append after the image (a QEMU build's binary, a built kernel's empty module lists): a later archive's file replaces the image's. */
  overlays?: readonly string[];
  /** Told as each guest ends (its TCESPEC-DONE line), for a progress line. */
  finished?: () => void;
  /**
   * Hands L1 its guests one at a time, as it asks: the next guest's index into the jobs, or
   * undefined where L1 is to stop (HandOut in lanes.ts, which L1s of one launch share). Without
   * it L1 runs every job, in order. L1 is told to stop, whatever this says, once the host kernel
   * crashed under the guest it last ran (the guests after it would run on a kernel that cannot be
   * trusted).
   */
  handOut?: () => number | undefined;
}

const GUEST_END = new RegExp(`${BATCH.done} \\d+ `, "g");

/** Calls `finished` for each guest end line the console has gained (read on every chunk: only the new text, and a line's width before it). */
export function guestEnds(finished: (() => void) | undefined): (text: string, before: number) => void {
  return (text, before) => {
    if (!finished) return;
    const from = Math.max(0, before - 40);
    const ends = text.slice(from).match(GUEST_END)?.length ?? 0;
    const seen = text.slice(from, before).match(GUEST_END)?.length ?? 0;
    for (let n = seen; n < ends; n++) finished();
  };
}

const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;

/**
 * Where a batch's script runs: inside L1 (the paths of its initramfs, L1's QEMU under KVM), or
 * directly on a host whose own KVM runs the guests (a POWER machine: a directory of its own, the
 * host's QEMU, a natively built shim).
 */
export interface BatchPlace {
  /** Where the guests' ELFs are. */
  elfs: string;
  /** Where the FIFOs, logs and migration files go. */
  work: string;
  qemu: string;
  shim: string;
  accel: "kvm" | "tcg";
  /** Turn address-space randomisation off (L1 only: it is L1's own kernel). */
  tuneAslr: boolean;
  /**
   * L1: the devices bound to vfio-pci are the guests' to take, as $VFIO_HOST_1, $VFIO_HOST_2…;
   * elsewhere those variables come from the environment (TCESPEC_VFIO_HOST).
   */
  listVfio: boolean;
  /**
   * L1: the kernel's log is the batch's to clear and write (it is L1's own kernel): each guest's
   * lines are copied into it, and a WARN is read back from it (real/console.ts, KMSG_COPY).
   */
  kernelLog: boolean;
  /** -machine options every guest gets here (the L1 host's). */
  guestMachine?: string;
  /** Shell run once before the guests (the L1 host's `setup`). */
  setup?: string;
  /** What each host step adds to a guest's timeout here (the L1 host's `stepMs`). */
  stepMs?: number;
  /** How long a migration may take here, in seconds of L1's time (the L1 host's `migrateSeconds`; default 20). */
  migrateSeconds?: number;
}

export const IN_L1: BatchPlace = {
  elfs: "/batch",
  work: "/tmp",
  qemu: "qemu-system-ppc64",
  shim: SHIM_PATH,
  accel: "kvm",
  tuneAslr: true,
  listVfio: true,
  kernelLog: true,
};

/** How long a host step waits, in polls: the monitor's prompt (0.1 s each), a device's going (0.1 s), a migration (0.2 s). */
const PROMPT_POLLS = 600;
const UNPLUG_POLLS = 100;
const MIGRATE_POLLS_PER_SECOND = 5;

/**
 * The script that runs the batch: one guest QEMU per job, fenced by markers. Every guest in turn;
 * or, `handOut`, the guests the host names, one at a time: the script asks (BATCH.next) and
 * reads the answer from its console, a guest's index or `end` (runL1's handOut).
 */
export function batchScript(jobs: readonly BatchJob[], timeoutMs: number, place: BatchPlace = IN_L1, handOut = false): string {
  const tmp = place.work;
  const migratePolls = (place.migrateSeconds ?? 20) * MIGRATE_POLLS_PER_SECOND;
  const lines = jobs.map((job, i) => {
    const seconds = Math.max(1, Math.ceil(guestTimeoutMs(job, timeoutMs, place.stepMs) / 1000));
    const guestArgs = L2_ARGS.map((a, k) => (L2_ARGS[k - 1] === "-accel" ? (job.accel ?? place.accel) : a));
    const debug = process.env.TCESPEC_KVM_CONSOLE ? "TCESPEC_SHIM_DEBUG=1 " : "";
    const env = job.hideCaps.length > 0 ? `LD_PRELOAD=${quote(place.shim)} TCESPEC_HIDE_CAPS=${job.hideCaps.join(",")} ${debug}` : "";
    const machine = place.guestMachine ? ["-machine", place.guestMachine] : [];
    const args = [...guestArgs, ...machine, ...job.args, "-kernel", `${place.elfs}/${i}.elf`].map(quote).join(" ");
    const qemuBinary = quote(place.qemu);
    // The kernel log starts empty for each guest, with its WARN_ONCEs armed again: a warning is
    // the guest's own, whatever ran before it in the batch.
    const begin = `echo "${BATCH.run} ${i} $(cat /proc/uptime)"${place.kernelLog ? `; dmesg -c >/dev/null; [ -w ${WARN_ONCE} ] && echo 1 > ${WARN_ONCE}` : ""}`;
    // A log that holds a WARN is printed whole after the guest; the console reads it (kernelWarning).
    const klog = place.kernelLog
      ? `tcespec_settle || echo "${BATCH.unsettled} ${i}"; dmesg -c > ${tmp}/k${i}; if grep -q "WARNING: CPU:" ${tmp}/k${i}; then echo "${BATCH.klog} ${i}"; cat ${tmp}/k${i}; echo "${BATCH.klogEnd} ${i}"; fi\n`
      : "";
    // QEMU's exit status is taken before the log is read: a guest without host steps has no other report of it.
    const done = `rc=$?; ${klog}echo "${BATCH.done} ${i} $rc $(cat /proc/uptime)"`;
    if (!job.steps?.length) return `${begin}\n${env}timeout -s KILL ${seconds} ${qemuBinary} ${args} </dev/null 2>&1\n${done}`;
    // Host steps: the guest's console input and an HMP monitor on FIFOs; a loop reads what QEMU
    // prints, acts at each step the guest announces, reports it, and lets the guest go on.
    const log = `${tmp}/m${i}.log`;
    /** Written once the guest's last QEMU has exited (after a migration, the destination). */
    const gone = `${tmp}/q${i}.exit`;
    // The emulated devices added before each step: a migration's destination is started with them
    // (a hotplugged device is part of the machine the stream describes).
    const present = new Map<string, string>();
    const devicesAt = job.steps.map((step) => {
      const now = [...present.values()];
      if (step.kind === "plug" && !step.device.vfio) present.set(step.device.name, `-device ${eduOptions(step.device.name, step.bus, step.device.slot)}`);
      if (step.kind === "unplug") present.delete(step.device);
      return now;
    });
    // Which host device each vfio-pci plug takes, by step.
    let vfioPlugs = 0;
    const hostOf = job.steps.map((step) => (step.kind === "plug" && step.device.vfio ? (job.hosts?.[vfioPlugs++] ?? 1) : 0));
    // Once in CI (a busy L1) "unplugging the last device" diverged after its unplug; alone it never
    // did. The likely cause, not yet seen: QEMU may finalize a vfio-pci device (and with it drop
    // its container, vfio's listener and notifiers) after the device leaves \`info pci\`, its memory
    // regions going with an RCU grace period, so the guest's next mark can come first. An unplug
    // therefore waits until no process holds the device's IOMMU group: not at all where a vfio-pci
    // device still plugged shares the group (it keeps the group open), and 3 s of L1's clock at
    // most (a pass over every process's fds takes about 0.3 s in L1: 30 passes were 9 s, and
    // two such unplugs ran a guest past its timeout).
    const steps = job.steps;
    const groupOf = (host: number) => `$(basename $(readlink /sys/bus/pci/devices/$VFIO_HOST_${host}/iommu_group))`;
    const groupReleased = (k: number) => {
      const step = steps[k]!;
      if (step.kind !== "unplug") return "";
      // The vfio-pci plugs before this unplug whose device is still plugged after it, by step.
      const live = new Map<string, number>();
      steps.forEach((s, j) => {
        if (j > k) return;
        if (s.kind === "plug" && s.device.vfio) live.set(s.device.name, j);
        if (s.kind === "unplug") live.delete(s.device);
      });
      let plug = -1;
      steps.forEach((s, j) => {
        if (j < k && s.kind === "plug" && s.device.vfio && s.device.name === step.device) plug = j;
      });
      if (plug < 0) return "";
      const sharing = [...live.values()].map((j) => `[ "${groupOf(hostOf[j]!)}" = "$g" ] && shared=1; `).join("");
      return (
        `g=${groupOf(hostOf[plug]!)}; shared=0; ${sharing}` +
        `if [ $shared = 0 ]; then read up _ < /proc/uptime; deadline=$(( \${up%.*} + 3 )); ` +
        `while ls -l /proc/[0-9]*/fd 2>/dev/null | grep -q "/dev/vfio/$g$"; do read up _ < /proc/uptime; [ \${up%.*} -ge $deadline ] && break; sleep 0.1; done; fi; `
      );
    };
    const actions = job.steps
      .map((step, k) => {
        // Each report is what QEMU showed after the step, printed once the step is over.
        const act = (report: string) => `tcespec_say "${BATCH.act} ${k + 1} ${report}"`;
        // Each step reads only what the monitor answered to it: the log starts empty. A command
        // naming $VFIO_HOST_n is expanded by the script's shell; any other is sent as written.
        const send = (command: string) => `: > ${log}; echo ${command.includes("$") ? `"${command}"` : quote(command)} >&4`;
        const listed = (name: string) => `grep -q ${quote(`id "${name}"`)} ${log}`;
        if (step.kind === "migrate") {
          // Into a file; once the source has sent it all (it stops in "postmigrate"), it quits and
          // the loop around QEMU starts the destination from the file (the guest goes on there: no
          // character for it here). Refused by QEMU (an Error: a vfio-pci device blocks it):
          // blocked, and the source goes on. A migration that failed, or did not complete in time,
          // is an error, in QEMU's words. Not "Migration status: completed": a machine that came
          // in by a migration reports its incoming one as completed until another starts
          // (qmp_query_migrate), so a refused one read as done, and the destination started from
          // the old stream (the guest ran earlier steps again, then waited for a host step the
          // script no longer had: a timeout explore met on pseries). The Error is read first.
          return [
            `      ${k + 1}) ${send(`migrate "exec:cat > ${tmp}/mig${i}"`)}; t=0`,
            `         while [ $t -lt ${migratePolls} ] && ! grep -qE "Error|postmigrate|Migration status: (failed|cancelled)" ${log}; do sleep 0.2; echo "info migrate" >&4; echo "info status" >&4; t=$((t+1)); done`,
            `         if grep -q "Error" ${log}; then ${act(`blocked: $(grep Error ${log} | tail -1)`)}; echo g >&3;`,
            `         elif grep -q "postmigrate" ${log}; then ${act("migrated")}; echo ${quote(devicesAt[k]!.join(" "))} > ${tmp}/mig${i}.go; echo quit >&4;`,
            `         elif grep -qE "Migration status: (failed|cancelled)" ${log}; then ${act(`failed: migrate: $(grep -E "Migration status|error" ${log} | tail -2 | tr '\\n' ' ')`)}; echo g >&3;`,
            `         else ${act(`failed: migrate: QEMU did not complete it within ${migratePolls / MIGRATE_POLLS_PER_SECOND} s ($(grep "Migration status" ${log} | tail -1))`)}; echo g >&3; fi ;;`,
          ].join("\n");
        }
        const named = step.kind === "plug" ? step.device.name : step.kind === "unplug" ? step.device : "";
        const [command, verify] =
          step.kind === "plug"
            ? [
                step.device.vfio
                  ? `device_add vfio-pci,host=$VFIO_HOST_${hostOf[k]},id=${named},bus=${step.bus},addr=${pciAddr(step.device.slot)}`
                  : `device_add ${eduOptions(named, step.bus, step.device.slot)}`,
                // Plugged when QEMU lists the device: not when device_add was sent.
                `${send("info pci")}; tcespec_prompt ${log} ${gone}; if ${listed(named)}; then ${act(step.device.vfio ? `plugged ${named} ${step.device.phbIndex}` : `added ${named}`)}; else ${act(`failed: device_add ${named}: QEMU does not list the device after it`)}; fi`,
              ]
            : step.kind === "unplug"
              ? [
                  `device_del ${named}`,
                  // device_del answers before the device is gone: until \`info pci\` no longer lists it,
                  // its vfio container (and its notifiers) may still be there. Still listed at the
                  // end of the wait: QEMU did not release it (the guest did not let go of its slot).
                  `u=0; while [ $u -lt ${UNPLUG_POLLS} ]; do ${send("info pci")}; tcespec_prompt ${log} ${gone}; ${listed(named)} || break; sleep 0.1; u=$((u+1)); done; ` +
                    `if [ $u -lt ${UNPLUG_POLLS} ]; then ${groupReleased(k)}${act(`unplugged ${named}`)}; else ${act(`failed: device_del ${named}: QEMU still lists the device ${UNPLUG_POLLS / 10} s later`)}; fi`,
                ]
              : ["system_reset", act("reset")];
        // After a reset the guest starts again and goes on by itself: no character for it.
        const release = step.kind === "reset" ? "" : " echo g >&3;";
        // The guest goes on once the command is done: the monitor prints its next prompt. A vfio-pci
        // plug pins the guest's RAM and replays the whole window first, which can take seconds; a
        // guest released after a fixed wait could make its next calls in the middle of that. The
        // monitor's previous prompt (at the first step, the one it prints when QEMU starts) must be
        // in before the log is emptied: arriving late, it would pass for this command's.
        const name = command.split(" ")[0];
        // The monitor stays silent for a while, or for good: its QEMU is gone.
        const unanswered = `$([ -f ${gone} ] && echo "QEMU exited before it answered" || echo "the monitor did not answer within ${PROMPT_POLLS / 10} s")`;
        return [
          `      ${k + 1}) if ! tcespec_prompt ${log} ${gone}; then ${act(`failed: ${name}: ${unanswered}`)};`,
          `         else ${send(command)}; if ! tcespec_prompt ${log} ${gone}; then ${act(`failed: ${name}: ${unanswered}`)};`,
          `         elif grep -q "Error" ${log}; then ${act(`failed: ${name}: $(grep Error ${log} | tail -1)`)};`,
          `         else ${verify}; fi; fi;${release} ;;`,
        ].join("\n");
      })
      .join("\n");
    // The destination may end its incoming migration paused (as on the qemu backend): once it is
    // past "inmigrate", a paused machine is continued. Only then is the guest released: a
    // character read while the state loads is lost, as loading restores the console's buffer.
    const resume = [
      `( t=0; while [ $t -lt 150 ]; do sleep 0.2; : > ${log}; echo "info status" >&4; sleep 0.2;`,
      `if grep -q "VM status: running" ${log}; then break; fi;`,
      `if grep -q "VM status: paused" ${log} && ! grep -q "inmigrate" ${log}; then echo cont >&4; break; fi; t=$((t+1)); done; echo g >&3 ) &`,
    ].join(" ");
    const qemu = (extra: string) => `timeout -s KILL ${seconds} ${qemuBinary} ${args} -monitor pipe:${tmp}/m${i}${extra} <&3 2>&1`;
    return [
      begin,
      // Both FIFOs held open read-write by the shell: no open ever waits for QEMU, even once it is gone.
      `mkfifo ${tmp}/in${i} ${tmp}/m${i}.in ${tmp}/m${i}.out; exec 3<>${tmp}/in${i} 4<>${tmp}/m${i}.in; cat ${tmp}/m${i}.out >> ${log} &`,
      // After a completed migration the source quits and the destination takes the same console,
      // monitor and stream, with the devices hotplugged before the migration.
      // QEMU's own exit status (the last QEMU's, after a migration): 137 is the per-spec timeout's kill.
      `( ${env}${qemu("")}; rc=$?; while [ -f ${tmp}/mig${i}.go ]; do mv ${tmp}/mig${i}.go ${tmp}/mig${i}.devices; cat ${tmp}/m${i}.out >> ${log} & ${resume} ${env}${qemu(` $(cat ${tmp}/mig${i}.devices) -incoming "exec:cat ${tmp}/mig${i}"`)}; rc=$?; done; echo $rc > ${gone}; echo "${BATCH.qemuExit} $rc" ) | { n=0; while IFS= read -r line; do`,
      `  echo "$line"`,
      `  case "$line" in *${HOST_STEP}*) n=$((n+1)); case $n in`,
      actions,
      `  esac ;; esac`,
      `done; }`,
      `exec 3>&- 4>&-`,
      // With TCESPEC_KVM_CONSOLE set, the monitor's last answers go to the console too.
      ...(process.env.TCESPEC_KVM_CONSOLE ? [`echo "${BATCH.monitorLog} ${i}"; cat ${log}`] : []),
      done,
    ].join("\n");
  });
  // Without address-space randomisation each L2 QEMU sits where the last one did, so L0 reuses
  // the code it translated for it: about a third less time per guest.
  const aslr = place.tuneAslr ? "echo 0 > /proc/sys/kernel/randomize_va_space\n" : "";

  // What judges the batch, as it reports itself: the kernel whose KVM runs the guests, and their QEMU.
  const software = `echo "${SOFTWARE} $(uname -r) $(${quote(place.qemu)} --version 2>&1 | head -1)"\necho "${KERNEL_BANNER} $(cat /proc/version)"\necho "${PLATFORM} $(grep -m1 '^platform' /proc/cpuinfo | cut -d: -f2)"\n`;
  const vfio = place.listVfio ? "i=0; for d in $(ls /sys/bus/pci/drivers/vfio-pci 2>/dev/null | grep :); do i=$((i+1)); eval VFIO_HOST_$i=$d; done\n" : "";
  // A host step's report: to the console and, in L1, into the kernel log among the guest's lines.
  const say = `tcespec_say() { echo "$1";${place.kernelLog ? ` echo "${KMSG_COPY}$1" >&5;` : ""} }\n`;
  // In L1: the log written through one descriptor (printk.devkmsg=on: not rate-limited), its
  // WARN_ONCE switch in debugfs, and each guest's QEMU copying the guest's lines into it (the shim).
  const kmsg = place.kernelLog
    ? `exec 5>/dev/kmsg\n[ -e ${WARN_ONCE} ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null\n[ -e ${quote(place.shim)} ] && export LD_PRELOAD=${quote(place.shim)} TCESPEC_KMSG=1\n`
    : "";
  // Waits for the monitor's prompt in a log ($1); fails after PROMPT_POLLS tenths of a second, or
  // at once when the file $2 says the guest's last QEMU has exited.
  const prompt = `tcespec_prompt() { t=0; while [ $t -lt ${PROMPT_POLLS} ]; do grep -q "(qemu)" "$1" && return 0; [ -f "$2" ] && return 1; sleep 0.1; t=$((t+1)); done; return 1; }\n`;
  const setup = place.setup ? `${place.setup}\n` : "";
  const settle = place.kernelLog ? SETTLE : "";
  // Handed out: each guest a function, run when the host names it. An answer that is neither an
  // index nor `end` stops L1 with an error (a guest lost to a garbled line would pass unseen).
  const guests = handOut
    ? `${lines.map((line, i) => `tcespec_guest_${i}() {\n${line}\n}`).join("\n")}\nstty -echo 2>/dev/null\n` +
      `while :; do echo "${BATCH.next}"; read -r g || break; case "$g" in end) break ;; *[!0-9]* | "") echo "${BATCH.l1Error} unreadable hand-out '$g'"; break ;; esac; tcespec_guest_$g; done`
    : lines.join("\n");
  return `${aslr}${kmsg}${software}${say}${prompt}${settle}${vfio}${setup}${guests}\n`;
}

export function batchArchive(jobs: readonly BatchJob[], timeoutMs: number, place: BatchPlace = IN_L1, handOut = false): Buffer {
  return cpio([
    dirEntry("batch"),
    fileEntry("batch/run.sh", batchScript(jobs, timeoutMs, place, handOut), true),
    ...jobs.map((job, i) => fileEntry(`batch/${i}.elf`, Buffer.from(job.elf))),
  ]);
}

/** `resolve`, taking effect once and after `cleanup` (the timer, the process, the directory): whichever of end, timeout or error comes first wins. */
function settleOnce<T>(resolve: (value: T) => void, cleanup: () => void): (value: T) => void {
  let settled = false;
  return (value) => {
    if (settled) return;
    settled = true;
    cleanup();
    resolve(value);
  };
}

/** Boots one L1 for these jobs; resolves with each job's result, or one error for all. */
export function runL1(image: L1Image, jobs: readonly BatchJob[], options: L1Options): Promise<BatchResult> {
  const dir = mkdtempSync(join(tmpdir(), "tcespec-l1-"));
  const host = options.host ?? PSERIES;
  const l0 = options.l0 ?? host.l0(undefined);
  if ("problem" in l0) return Promise.resolve({ error: l0.problem });
  // Linux unpacks concatenated archives in turn: the cached image (compressed, where L0 loads
  // little: image.initramfs is then the compressed one), then the batch.
  const initrd = join(dir, "initrd.cpio");
  copyFileSync(image.initramfs, initrd);
  // An archive after a compressed one is read only from a 4-byte boundary (zeros are skipped).
  const align = () => appendFileSync(initrd, Buffer.alloc((4 - (statSync(initrd).size % 4)) % 4));
  align();
  for (const overlay of options.overlays ?? []) {
    appendFileSync(initrd, readFileSync(overlay));
    align();
  }
  const handOut = options.handOut;
  appendFileSync(
    initrd,
    batchArchive(jobs, options.timeoutMs, { ...IN_L1, ...(host.guestMachine ? { guestMachine: host.guestMachine } : {}), ...(host.setup ? { setup: host.setup } : {}), stepMs: host.stepMs, ...(host.migrateSeconds ? { migrateSeconds: host.migrateSeconds } : {}) }, handOut !== undefined),
  );
  const size = statSync(initrd).size;
  if (host.initrdLimit !== undefined && size > host.initrdLimit) {
    rmSync(dir, { recursive: true, force: true });
    return Promise.resolve({ error: `L1's initramfs with the batch is ${size} bytes: ${host.describe} loads ${host.initrdLimit} at most (fewer guests a batch, or a smaller QEMU build)` });
  }
  const binary = l0.binary;
  // L1's RAM: enough for the batch's largest guest.
  const largest = jobs.reduce((most, job) => (guestRam(job) > most ? guestRam(job) : most), 0n);
  const l1MiB = l1Ram(largest) >> 20n;
  const args = [...l0.args, ...host.args, "-m", `${l1MiB}M`, "-kernel", image.vmlinux, "-initrd", initrd, "-append", "console=hvc0 quiet printk.devkmsg=on"];
  return new Promise((resolved) => {
    let text = "";
    let booted = false;
    let child: ChildProcess | undefined;
    let crashWatch: NodeJS.Timeout | undefined;
    // Under -icount sleep=off (IDLE_SKIPS) L1's clock jumps while it idles: its timeouts are in its time.
    const clock = host.args.includes("-icount") ? "of L1's time (L0 skips the time L1 idles)" : undefined;
    // The guests in the order L1 ran them: as handed out, or all in turn.
    const handed: number[] = [];
    const results = (stopped?: string) => batchResult(text, jobs, options.timeoutMs, stopped, clock, host.stepMs, handOut ? handed : undefined);
    const resolve = (result: BatchResult) => resolved(outOfMemory(result, text, l1MiB, handOut ? handed : undefined));
    // Once it has finished, L1 is handed nothing more (a guest handed then would never run).
    let over = false;
    const finish = settleOnce(resolve, () => {
      over = true;
      clearTimeout(timer);
      clearTimeout(crashWatch);
      if (child) release(child);
      rmSync(dir, { recursive: true, force: true });
      // For whoever debugs the backend: L1's whole console.
      if (process.env.TCESPEC_KVM_CONSOLE) appendFileSync(process.env.TCESPEC_KVM_CONSOLE, text);
    });
    const budget = options.bootTimeoutMs + jobs.reduce((sum, job) => sum + guestTimeoutMs(job, options.timeoutMs, host.stepMs) + 2000, 0);
    // Handed out, L1 has each guest's own time from when it is handed (and HAND_OUT_MS to ask for it).
    // `asked`: how far the console has been searched for requests (each answered once, in turn).
    let asked = 0;
    const handNext = () => {
      if (over) return;
      const last = handed.at(-1);
      const next = last !== undefined && hostKernelCrashed(guestResult(text, last)) ? undefined : handOut!();
      if (next !== undefined) handed.push(next);
      clearTimeout(timer);
      const allowed = (next === undefined ? 0 : guestTimeoutMs(jobs[next]!, options.timeoutMs, host.stepMs)) + HAND_OUT_MS;
      timer = setTimeout(() => finish(results(`L1 ran out of its time (${allowed} ms for ${next === undefined ? "stopping" : "the guest it was handed"})`)), allowed);
      child!.stdin!.write(next === undefined ? "end\n" : `${next}\n`);
    };
    let timer = setTimeout(() => finish({ error: `L1 did not boot within ${options.bootTimeoutMs} ms${lastLines(text)}` }), options.bootTimeoutMs);
    try {
      child = reaped(binary, args, handOut ? "pipe" : "ignore", l0.env ? { env: { ...process.env, ...l0.env } } : {});
    } catch (error) {
      finish({ error: `cannot start ${binary}: ${(error as Error).message}` });
      return;
    }
    // An answer written as L0 goes: what L1 did is read from its console all the same.
    child.stdin?.on("error", () => {});
    child.stdout!.setEncoding("latin1");
    const ended = guestEnds(options.finished);
    child.stdout!.on("data", (chunk: string) => {
      const before = text.length;
      text += chunk.replace(/\r/g, "");
      ended(text, before);
      const fresh = text.slice(Math.max(0, before - 200));
      // A panic ends L1: the guests that finished keep their results, the one running is told why.
      const panic = /Kernel panic[^\n]*/.exec(fresh);
      if (panic) return finish(results(`L1's kernel panicked (${panic[0].trim()})`));
      // An oops leaves the guest's QEMU dead in the kernel and the batch waiting on it for ever:
      // unless the batch moves on within a few seconds of a kernel report, L1 is stopped, and the
      // guests it did not run are run again on a fresh one (the launcher's afterCrashes).
      // A report that came while another was watched (a guest's WARN at its exit, then the next
      // guest's oops within the grace) is watched in turn once the batch has moved on from the
      // first: else L1 waited on the oopsed guest to the end of the batch's budget (23 minutes of
      // a PowerNV explore run).
      const watch = (reportAt: number) => {
        crashWatch = setTimeout(() => {
          crashWatch = undefined;
          const since = text.slice(reportAt);
          const done = since.lastIndexOf(`${BATCH.done} `);
          if (done < 0) return finish(results("L1's kernel crashed"));
          const later = kernelReportAt(since.slice(done));
          if (later >= 0) watch(reportAt + done + later);
        }, CRASH_GRACE_MS);
      };
      if (!crashWatch && booted && kernelReportAt(fresh) >= 0) watch(text.length);
      const failure = new RegExp(`${BATCH.l1Error} ([^\\n]*)`).exec(fresh);
      if (failure) return finish({ error: `L1: ${failure[1]}` });
      if (!booted && text.includes(BATCH.l1Ready)) {
        // Booted: from now on the batch's own budget counts.
        booted = true;
        clearTimeout(timer);
        timer = handOut
          ? setTimeout(() => finish(results(`L1 did not ask for a guest within ${HAND_OUT_MS} ms of its boot`)), HAND_OUT_MS)
          : setTimeout(() => finish(results(`the batch ran out of its time (${budget} ms)`)), budget);
      }
      if (handOut && booted) {
        const request = `${BATCH.next}\n`;
        for (let at = text.indexOf(request, asked); at >= 0; at = text.indexOf(request, asked)) {
          asked = at + request.length;
          handNext();
        }
        // Only what came since can hold the next (the console grows a few bytes at a time).
        asked = Math.max(asked, text.length - request.length + 1);
      }
      if (fresh.includes(BATCH.l1Done)) finish(results());
    });
    let stderr = "";
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.on("error", (error: NodeJS.ErrnoException) =>
      finish({
        error:
          error.code === "ENOENT"
            ? `${binary} not found: ${host === PSERIES ? "install Debian's qemu-system-ppc package (L0 runs on it)" : "run 'tcespec qemu setup 10.0'"}`
            : `cannot start ${binary}: ${error.message}`,
      }),
    );
    child.on("close", (code, signal) => {
      if (text.includes(BATCH.l1Ready)) return finish(results(`L0 exited (${signal ?? `code ${code}`})`));
      const why = stderr
        .split("\n")
        .filter((l) => l && !l.includes("warning:"))
        .slice(-2)
        .join(" | ");
      finish({ error: `L0 exited (${signal ?? `code ${code}`}) before L1 was up${why ? `: ${why}` : ""}${lastLines(text)}` });
    });
  });
}

export interface DirectOptions {
  /** The host's qemu-system-ppc64: on a POWER host with KVM it runs the guests itself. */
  binary: string;
  timeoutMs: number;
  /** `kvm` on POWER; `tcg` only to exercise this path off POWER. */
  accel: "kvm" | "tcg";
  /** The capability shim built for this host, when a spec hides capabilities. */
  shim?: string;
  /** The host's PCI devices bound to vfio-pci that `plug vfio` hands to the guest, in order. */
  vfioHosts?: readonly string[];
  /** Told as each guest ends, for a progress line. */
  finished?: () => void;
}

/** Runs a batch on this host: the same script L1 runs, in a directory of its own, under sh. */
export function runDirect(jobs: readonly BatchJob[], options: DirectOptions): Promise<BatchResult> {
  const dir = mkdtempSync(join(tmpdir(), "tcespec-kvm-"));
  jobs.forEach((job, i) => writeFileSync(join(dir, `${i}.elf`), job.elf));
  const place: BatchPlace = { elfs: dir, work: dir, qemu: options.binary, shim: options.shim ?? "", accel: options.accel, tuneAslr: false, listVfio: false, kernelLog: false };
  writeFileSync(join(dir, "run.sh"), batchScript(jobs, options.timeoutMs, place));
  return new Promise((resolve) => {
    let text = "";
    let child: ChildProcess | undefined;
    const finish = settleOnce(resolve, () => {
      clearTimeout(timer);
      if (child) release(child);
      rmSync(dir, { recursive: true, force: true });
    });
    const budget = jobs.reduce((sum, job) => sum + guestTimeoutMs(job, options.timeoutMs) + 2000, 0) + 5000;
    const timer = setTimeout(() => finish(batchResult(text, jobs, options.timeoutMs, `the batch ran out of its time (${budget} ms)`)), budget);
    try {
      child = reaped("sh", [join(dir, "run.sh")], "ignore", { env: { ...process.env, ...Object.fromEntries((options.vfioHosts ?? []).map((host, i) => [`VFIO_HOST_${i + 1}`, host])) }, group: true });
    } catch (error) {
      finish({ error: `cannot start sh: ${(error as Error).message}` });
      return;
    }
    child.stdout!.setEncoding("latin1");
    const ended = guestEnds(options.finished);
    child.stdout!.on("data", (chunk: string) => {
      const before = text.length;
      text += chunk.replace(/\r/g, "");
      ended(text, before);
    });
    child.on("error", (error) => finish({ error: `cannot run the batch: ${error.message}` }));
    child.on("close", () => finish(batchResult(text, jobs, options.timeoutMs)));
  });
}

function lastLines(text: string): string {
  const tail = text.trim().split("\n").slice(-2).join(" | ");
  return tail ? ` (L1's console ended: ${tail.slice(0, 200)})` : "";
}
