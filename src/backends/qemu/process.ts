// Running qemu-system-ppc64: one process per spec, always reaped — on success, on timeout,
// on a crash, and when tcespec itself is interrupted.
import { spawn, type ChildProcess } from "node:child_process";
import { BEGIN_MARKER, END_MARKER } from "../guest/guest.js";

const live = new Set<ChildProcess>();
let hooked = false;

function killAll(): void {
  for (const child of live) child.kill("SIGKILL");
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

export function liveQemuProcesses(): number {
  return live.size;
}

/** Kills a process started by `reaped` and forgets it: nothing of it outlives its run. */
export function release(child: ChildProcess): void {
  child.kill("SIGKILL");
  live.delete(child);
}

/** Starts a process that is killed with tcespec, whatever way tcespec ends; forgotten once it closes. */
export function reaped(binary: string, args: string[]): ChildProcess {
  hookExit();
  const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  child.on("close", () => live.delete(child));
  return child;
}

export type QemuRun = { body: string } | { error: string };

/** Runs QEMU until the guest prints its end marker; what it printed between the markers comes back. */
export function runQemu(binary: string, args: string[], timeoutMs: number): Promise<QemuRun> {
  return new Promise((resolve) => {
    let child: ChildProcess;
    try {
      child = reaped(binary, args);
    } catch (error) {
      resolve({ error: `cannot start ${binary}: ${(error as Error).message}` });
      return;
    }
    let stdout = "";
    let stderr = "";
    let settled = false;
    const finish = (result: QemuRun) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      release(child);
      resolve(result);
    };
    const timer = setTimeout(() => finish({ error: `timed out after ${timeoutMs} ms (the guest did not finish)` }), timeoutMs);
    child.stdout!.setEncoding("latin1");
    child.stdout!.on("data", (chunk: string) => {
      stdout += chunk;
      const end = stdout.indexOf(`${END_MARKER}\n`);
      if (end < 0) return;
      const begin = stdout.indexOf(`${BEGIN_MARKER}\n`);
      if (begin < 0 || begin > end) {
        finish({ error: "the guest's output has no begin marker" });
        return;
      }
      finish({ body: stdout.slice(begin + BEGIN_MARKER.length + 1, end) });
    });
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (chunk: string) => {
      stderr = (stderr + chunk).slice(-4000);
    });
    child.on("error", (error: NodeJS.ErrnoException) => {
      finish({
        error:
          error.code === "ENOENT"
            ? `${binary} not found: install Debian's qemu-system-ppc package, or pass --qemu PATH`
            : `cannot start ${binary}: ${error.message}`,
      });
    });
    // "close", not "exit": the last of stderr has been read by then.
    child.on("close", (code, signal) => {
      if (settled) return;
      const why = stderr
        .split("\n")
        .filter((l) => l && !l.includes("warning:"))
        .slice(-3)
        .join(" | ");
      finish({ error: `QEMU exited (${signal ?? `code ${code}`}) before the guest finished${why ? `: ${why}` : ""}` });
    });
  });
}
