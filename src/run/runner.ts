// Files × specs × profiles → results, in a deterministic order whatever the parallelism.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { compileSource } from "../compile/index.js";
import { diagnostic, type Diagnostic } from "../compile/diagnostics.js";
import type { CompiledSpec } from "../compile/program.js";
import type { ProfileName } from "../engine/types.js";
import type { Backend } from "../backends/backend.js";
import { ModelBackend } from "../backends/model.js";
import { runOf, type RunResult } from "./outcome.js";
import { findSpecFiles, readSpecFile } from "./files.js";
import { profilesFor, selected, type Selection } from "./select.js";
import type { Task } from "./worker.js";

export interface RunOptions extends Selection {
  bail?: boolean;
  jobs?: number;
  backends?: Backend[];
}

export interface FileReport {
  file: string;
  source: string;
  diagnostics: Diagnostic[];
  specs: CompiledSpec[];
}

export interface Report {
  files: FileReport[];
  runs: RunResult[];
  missing: string[];
}

export function errorRun(spec: CompiledSpec, profile: ProfileName, backend: string, error: unknown): RunResult {
  const reason = error instanceof Error ? error.message : String(error);
  return {
    ...runOf(spec, profile, backend),
    status: "error",
    reason: `internal error: ${reason}`,
    expectations: [],
  };
}

export function compileFiles(paths: string[]): { files: FileReport[]; missing: string[] } {
  const found = findSpecFiles(paths);
  const files = found.files.map((file): FileReport => {
    const read = readSpecFile(file);
    if (read.text === undefined)
      return { file, source: "", diagnostics: [diagnostic(file, { line: 1, column: 1 }, read.error!)], specs: [] };
    const compiled = compileSource(file, read.text);
    return { file, source: compiled.source, diagnostics: compiled.diagnostics, specs: compiled.program?.specs ?? [] };
  });
  return { files, missing: found.missing };
}

interface Planned {
  spec: CompiledSpec;
  profile: ProfileName;
  backend: Backend;
}

export async function run(paths: string[], options: RunOptions = {}): Promise<Report> {
  const { files, missing } = compileFiles(paths);
  const backends = options.backends ?? [new ModelBackend(options.bail)];
  const planned: Planned[] = [];
  for (const file of files) {
    for (const spec of file.specs) {
      if (!selected(spec, options)) continue;
      for (const backend of backends) {
        for (const profile of profilesFor(spec, options, backend.profiles)) planned.push({ spec, profile, backend });
      }
    }
  }
  const runs = await execute(planned, options);
  return { files, runs, missing };
}

async function execute(planned: Planned[], options: RunOptions): Promise<RunResult[]> {
  const results: RunResult[] = new Array(planned.length);
  const jobs = Math.max(1, options.jobs ?? availableParallelism());
  const modelTasks: number[] = [];
  const otherTasks: number[] = [];
  planned.forEach((p, i) => (p.backend instanceof ModelBackend ? modelTasks : otherTasks).push(i));

  const failed = (r: RunResult) => r.status !== "passed" && r.status !== "unsupported";
  let stop = false;
  // The model is fast: threads pay off only for a suite big enough to cover their start-up.
  if (jobs > 1 && modelTasks.length >= 64 && !options.bail) {
    await runInWorkers(
      modelTasks.map((i) => ({ id: i, spec: planned[i]!.spec, profile: planned[i]!.profile, bail: false })),
      jobs,
      results,
    );
  } else {
    for (const i of modelTasks) {
      const p = planned[i]!;
      results[i] = runModel(p.spec, p.profile, options.bail ?? false);
      if (options.bail && failed(results[i]!)) {
        stop = true;
        break;
      }
    }
  }
  // Other backends (real QEMU) run as a pool of at most `jobs` concurrent runs.
  let next = 0;
  const lane = async () => {
    while (!stop && next < otherTasks.length) {
      const i = otherTasks[next++]!;
      const p = planned[i]!;
      try {
        results[i] = await p.backend.run(p.spec, p.profile);
      } catch (error) {
        results[i] = errorRun(p.spec, p.profile, p.backend.name, error);
      }
      if (options.bail && failed(results[i]!)) stop = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, otherTasks.length) }, lane));
  return results.filter((r): r is RunResult => r !== undefined);
}

/** The compiled worker; from TypeScript sources (tests, development) it is loaded through tsx. */
function startWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL("./worker.js", self));
  const source = `import("tsx/esm/api").then((api) => { api.register(); return import(${JSON.stringify(new URL("./worker.ts", self).href)}); });`;
  return new Worker(source, { eval: true });
}

function runModel(spec: CompiledSpec, profile: ProfileName, bail: boolean): RunResult {
  try {
    return new ModelBackend(bail).runSync(spec, profile);
  } catch (error) {
    return errorRun(spec, profile, "model", error);
  }
}

async function runInWorkers(tasks: Task[], jobs: number, results: RunResult[]): Promise<void> {
  const count = Math.min(jobs, tasks.length);
  // Contiguous chunks: each worker gets its share once, so messages stay few.
  const size = Math.ceil(tasks.length / count);
  await Promise.all(
    Array.from({ length: count }, (_, w) => {
      const chunk = tasks.slice(w * size, (w + 1) * size);
      if (chunk.length === 0) return Promise.resolve();
      return new Promise<void>((resolvePromise) => {
        let done = false;
        // A worker that fails or dies leaves its share to this thread: slower, never lost.
        const fallBack = () => {
          if (done) return;
          done = true;
          for (const task of chunk) results[task.id] = runModel(task.spec, task.profile, false);
          resolvePromise();
        };
        let worker: Worker;
        try {
          worker = startWorker();
        } catch {
          fallBack();
          return;
        }
        worker.once("message", (answers: { id: number; result: RunResult }[]) => {
          if (done) return;
          done = true;
          for (const { id, result } of answers) results[id] = result;
          void worker.terminate();
          resolvePromise();
        });
        worker.once("error", fallBack);
        worker.once("exit", fallBack);
        worker.postMessage(chunk);
      });
    }),
  );
}
