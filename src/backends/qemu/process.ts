// Running qemu-system-ppc64: one process per spec, always reaped — on success, on timeout,
// on a crash, and when tcespec itself is interrupted.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Outcome } from "../../engine/types.js";
import type { HostStep } from "../real/pipeline.js";
import { BEGIN_MARKER, END_MARKER, HOST_STEP, lastWords, qemuCrash } from "../real/console.js";
import type { CrashReport } from "../../verdict/outcome.js";
import { Qmp, QmpRefusal } from "./qmp.js";

const live = new Set<ChildProcess>();
/** Processes started as the leaders of their own group: killing one kills what it started. */
const leaders = new WeakSet<ChildProcess>();
let hooked = false;

function kill(child: ChildProcess): void {
  if (leaders.has(child) && child.pid !== undefined) {
    try {
      process.kill(-child.pid, "SIGKILL");
      return;
    } catch {
      // The group is gone already: the child itself is all there is to kill.
    }
  }
  child.kill("SIGKILL");
}

function killAll(): void {
  for (const child of live) kill(child);
  live.clear();
}

function hookExit(): void {
  if (hooked) return;
  hooked = true;
  process.on("exit", killAll);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(128 + (signal === "SIGINT" ? 2 : signal === "SIGTERM" ? 15 : 1));
    });
  }
}

/** A machine with no default devices, nothing to look at, and its console on standard output. */
export const CONSOLE_ONLY = ["-nodefaults", "-display", "none", "-monitor", "none", "-serial", "stdio"];

/**
 * A PCI slot as QEMU's `addr=` reads it: hexadecimal (`addr=10` is slot 16). Written in decimal,
 * the devices of slots 10 to 15 sat six to eleven slots higher than the guest configured them, and
 * a spec's sixteenth device found its BAR on the tenth's (found by explore under QEMU 7.2's TCG).
 */
export const pciAddr = (slot: number): string => slot.toString(16);

/** An edu device's options, for `-device` and for HMP's `device_add` alike. */
export function eduOptions(name: string, bus: string, slot: number): string {
  return `edu,id=${name},bus=${bus},addr=${pciAddr(slot)}`;
}

/** Hotplugged edu devices reach every IOBA (the device's default DMA mask is 28 bits). */
export const EDU_FULL_DMA_MASK = ["-global", "edu.dma_mask=0xffffffffffffffff"];

export function liveQemuProcesses(): number {
  return live.size;
}

/** Kills a process started by `reaped` and forgets it: nothing of it outlives its run. */
export function release(child: ChildProcess): void {
  kill(child);
  live.delete(child);
}

/** Starts a process that is killed with tcespec, whatever way tcespec ends; forgotten once it closes. */
export function reaped(
  binary: string,
  args: string[],
  stdin: "ignore" | "pipe" = "ignore",
  options: { env?: NodeJS.ProcessEnv; group?: boolean } = {},
): ChildProcess {
  hookExit();
  // A group leader (a shell running QEMUs) is killed with its whole group.
  const child = spawn(binary, args, { stdio: [stdin, "pipe", "pipe"], env: options.env, detached: options.group ?? false });
  if (options.group) leaders.add(child);
  live.add(child);
  child.on("close", () => live.delete(child));
  return child;
}


/** What the guest printed and the host steps answered; or that, as far as it got, and QEMU's crash; or why it did not finish. */
/** How long a failed host step waits for QEMU's exit, which says whether QEMU crashed. */
const EXIT_GRACE_MS = 1000;

export type QemuRun = { body: string; host: Outcome[]; crash?: CrashReport } | { error: string };

const MIGRATION_POLL_MS = 20;

/**
 * Runs QEMU until the guest prints its end marker; what it printed between the markers comes
 * back, with what each host step answered. At each host step the guest announces, the host
 * acts over QMP: a reset, or a migration into a second QEMU (`-incoming`), which then goes on.
 */
export function runQemu(binary: string, args: string[], timeoutMs: number, steps: readonly HostStep[] = []): Promise<QemuRun> {
  const work = steps.length > 0 ? mkdtempSync(join(tmpdir(), "tcespec-qmp-")) : undefined;
  let generation = 0;
  const socketOf = (n: number) => join(work!, `qmp-${n}.sock`);
  const qmpArgs = (n: number) => (work ? ["-qmp", `unix:${socketOf(n)},server=on,wait=off`] : []);
  return new Promise((resolve) => {
    let child: ChildProcess;
    let qmp: Qmp | undefined;
    let stdout = "";
    let stderr = "";
    let settled = false;
    let stepFailure: string | undefined;
    let announced = 0;
    let acting: Promise<void> = Promise.resolve();
    const host: Outcome[] = [];
    const finish = (result: QemuRun) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      qmp?.close();
      if (child) release(child);
      if (work) rmSync(work, { recursive: true, force: true });
      resolve(result);
    };
    const timer = setTimeout(() => finish({ error: `timed out after ${timeoutMs} ms (--timeout): the guest did not finish` }), timeoutMs);

    // The devices hotplugged so far: a migration's destination is started with them, as the
    // machine the stream describes has them.
    const plugged: string[] = [];
    const act = async (action: HostStep, index: number): Promise<void> => {
      qmp ??= await Qmp.open(socketOf(generation));
      if (action.kind === "unplug" || (action.kind === "plug" && action.device.vfio))
        throw new Error(`${action.kind}: QEMU under TCG has no ${action.kind === "plug" ? "vfio-pci device to plug" : "unplug here"}`);
      if (action.kind === "plug") {
        await qmp.execute("device_add", { driver: "edu", id: action.device.name, bus: action.bus, addr: pciAddr(action.device.slot) });
        plugged.push("-device", eduOptions(action.device.name, action.bus, action.device.slot));
        host.push({ kind: "done" });
        child.stdin?.write("g");
        return;
      }
      if (action.kind === "reset") {
        // Noted first: the reset guest may reach its end before QMP's answer reaches us. The guest
        // proves the reset itself: it waits at the step in a loop that only a machine reset leaves,
        // so a run that ends had its reset, and a refused system_reset is this step's error.
        host.push({ kind: "done" });
        await qmp.execute("system_reset");
        return;
      }
      const file = join(work!, `migration-${index}`);
      try {
        await qmp.execute("migrate", { uri: `exec:cat > ${file}` });
      } catch (error) {
        if (!(error instanceof QmpRefusal)) throw error;
        // QEMU refused it (a migration blocker): the answer `expect migrate == blocked` is about.
        host.push({ kind: "migrate", ok: false });
        child.stdin?.write("g");
        return;
      }
      let status = "";
      let why = "";
      while (!["completed", "failed", "cancelled"].includes(status)) {
        await new Promise((r) => setTimeout(r, MIGRATION_POLL_MS));
        const info = (await qmp.execute("query-migrate")) as { status?: string; "error-desc"?: string };
        status = info.status ?? "";
        why = info["error-desc"] ?? "";
      }
      // Accepted, then failed or cancelled: not a refusal, an error in QEMU's words.
      if (status !== "completed") throw new Error(`QEMU's migration ${status}${why ? `: ${why}` : ""}`);
      host.push({ kind: "migrate", ok: true });
      const source = child;
      qmp.close();
      qmp = undefined;
      release(source);
      generation++;
      start([...plugged, "-incoming", `exec:cat ${file}`]);
      qmp = await Qmp.open(socketOf(generation));
      for (;;) {
        const state = (await qmp.execute("query-status")) as { status?: string; running?: boolean };
        if (state.running) break;
        if (state.status === "paused" || state.status === "postmigrate") {
          await qmp.execute("cont");
          break;
        }
        await new Promise((r) => setTimeout(r, MIGRATION_POLL_MS));
      }
      child.stdin?.write("g");
    };

    const onOutput = (chunk: string) => {
      stdout += chunk;
      let at = -1;
      let seen = 0;
      while ((at = stdout.indexOf(`${HOST_STEP}\n`, at + 1)) >= 0) seen++;
      for (; announced < seen && announced < steps.length; announced++) {
        const index = announced;
        const what = steps[index]!;
        acting = acting
          .then(() => act(what, index))
          .catch((error) => {
            // A step fails when QMP goes with a QEMU that crashed: QEMU's exit, if it comes, says
            // which (a crash is a verdict); otherwise the step's failure is the error.
            stepFailure = `host step ${index + 1} (${what.kind === "plug" ? `plug ${what.device.name}` : what.kind}): ${(error as Error).message}`;
            setTimeout(() => finish({ error: stepFailure! }), EXIT_GRACE_MS);
          });
      }
      const end = stdout.indexOf(`${END_MARKER}\n`);
      if (end < 0) return;
      const begin = stdout.indexOf(`${BEGIN_MARKER}\n`);
      if (begin < 0 || begin > end) {
        finish({ error: "the guest's output has no begin marker" });
        return;
      }
      finish({ body: stdout.slice(begin + BEGIN_MARKER.length + 1, end), host });
    };

    const start = (extra: string[]) => {
      // QEMU's stderr (its trace and its errors) joins its stdout (the guest's console) in one
      // stream, so a trace line stands where it happened among what the guest printed.
      const own = reaped("sh", ["-c", 'exec "$0" "$@" 2>&1', binary, ...args, ...qmpArgs(generation), ...extra], work ? "pipe" : "ignore");
      child = own;
      own.stdout!.setEncoding("latin1");
      own.stdout!.on("data", (chunk: string) => {
        if (own !== child) return;
        stderr = (stderr + chunk).slice(-4000);
        onOutput(chunk);
      });
      own.stderr!.setEncoding("utf8");
      own.stderr!.on("data", (chunk: string) => {
        if (own === child) stderr = (stderr + chunk).slice(-4000);
      });
      own.on("error", (error: NodeJS.ErrnoException) => {
        finish({
          error:
            error.code === "ENOENT"
              ? `${binary} not found: install Debian's qemu-system-ppc package, or pass --qemu PATH`
              : `cannot start ${binary}: ${error.message}`,
        });
      });
      // "close", not "exit": the last of stderr has been read by then. A migrated source's end is no failure.
      own.on("close", (code, signal) => {
        if (settled || own !== child) return;
        if (code === 127 && /not found/.test(stderr)) {
          finish({ error: `${binary} not found: install Debian's qemu-system-ppc package, or pass --qemu PATH` });
          return;
        }
        const why = lastWords(stderr);
        // QEMU crashed (an assertion, a segfault): a verdict on QEMU, judged as far as the guest got.
        const crash = qemuCrash(signal, why);
        const begin = stdout.indexOf(`${BEGIN_MARKER}\n`);
        if (crash) {
          finish({ body: begin >= 0 ? stdout.slice(begin + BEGIN_MARKER.length + 1) : "", host, crash });
          return;
        }
        const how = signal ? `was killed by ${signal}` : `exited (code ${code})`;
        finish({ error: `${stepFailure ? `${stepFailure}; ` : ""}QEMU ${how} before the guest finished${why ? `: ${why}` : ""}` });
      });
    };
    try {
      start([]);
    } catch (error) {
      finish({ error: `cannot start ${binary}: ${(error as Error).message}` });
    }
  });
}
