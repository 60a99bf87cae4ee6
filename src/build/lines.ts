// Long-running tools read as they go: their output line by line (for progress), and progress said
// at most every so often. Shared by the builds (make, meson) and the private apt.
import { spawn } from "node:child_process";

export interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command, handing each line of its standard output and error on as it comes; resolves when it ends (rejects when it cannot start). */
export function spawnLines(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; onLine?: (line: string) => void }): Promise<Ended> {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      reject(error);
      return;
    }
    let stdout = "";
    let stderr = "";
    const pending = { out: "", err: "" };
    const take = (which: "out" | "err") => (chunk: Buffer) => {
      const s = chunk.toString("utf8");
      if (which === "out") stdout += s;
      else stderr += s;
      if (!options.onLine) return;
      const lines = (pending[which] + s).split("\n");
      pending[which] = lines.pop()!;
      for (const line of lines) options.onLine(line);
    };
    child.stdout.on("data", take("out"));
    child.stderr.on("data", take("err"));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      for (const rest of [pending.out, pending.err]) if (rest) options.onLine?.(rest);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** `say`, at most once every `ms` (a progress line every 2 s, not one per object built). */
export function every(ms: number, say: (message: string) => void): (message: () => string) => void {
  let last = Date.now();
  return (message) => {
    if (Date.now() - last < ms) return;
    last = Date.now();
    say(message());
  };
}
