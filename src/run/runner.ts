// Files × specs × profiles → results, in a deterministic order whatever the parallelism.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { compileSource } from "../compile/index.js";
import { diagnostic, type Diagnostic } from "../compile/diagnostics.js";
import type { CompiledSpec } from "../compile/program.js";
import type { ProfileName } from "../engine/types.js";
import type { Backend } from "../backends/backend.js";
import { ModelBackend } from "../backends/model.js";
import { errorRun, type RunResult } from "./outcome.js";
import { findSpecFiles, readSpecFile } from "./files.js";
import { profilesFor, selected, type Selection } from "./select.js";
import type { WorkerAnswer, WorkerJob } from "./worker.js";

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
  /** The backends that ran, and which of them are real software. */
  backends: { name: string; real: boolean }[];
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
  const runs = await execute(planned, backends, options);
  return { files, runs, missing, backends: backends.map((b) => ({ name: b.name, real: b.real })) };
}

/** Fewer tasks than this and worker threads cost more than they save. */
const WORKER_THRESHOLD = 64;
const failed = (r: RunResult | undefined) => r !== undefined && r.status !== "passed" && r.status !== "unsupported";

/** Each backend's share, in the way the backend says it runs best; results keep the planned order. */
async function execute(planned: Planned[], backends: readonly Backend[], options: RunOptions): Promise<RunResult[]> {
  const results: (RunResult | undefined)[] = new Array(planned.length);
  const jobs = Math.max(1, options.jobs ?? availableParallelism());
  const bail = options.bail ?? false;
  let stop = false;
  const guarded = async (backend: Backend, i: number, go: () => Promise<RunResult> | RunResult) => {
    const p = planned[i]!;
    try {
      results[i] = await go();
    } catch (error) {
      results[i] = errorRun(p.spec, p.profile, backend.name, error);
    }
    if (bail && failed(results[i])) stop = true;
  };
  for (const backend of backends) {
    if (stop) break;
    const share = planned.flatMap((p, i) => (p.backend === backend ? [i] : []));
    if (share.length === 0) continue;
    if (backend.runBatch) {
      const tasks = share.map((i) => ({ spec: planned[i]!.spec, profile: planned[i]!.profile }));
      try {
        const batch = await backend.runBatch(tasks, jobs);
        share.forEach((i, k) => (results[i] = batch[k]));
      } catch (error) {
        share.forEach((i) => (results[i] = errorRun(planned[i]!.spec, planned[i]!.profile, backend.name, error)));
      }
      if (bail && share.some((i) => failed(results[i]))) stop = true;
    } else if (backend.recipe && jobs > 1 && share.length >= WORKER_THRESHOLD && !bail) {
      await runInWorkers(backend, share, planned, jobs, results);
    } else if (backend.runSync) {
      // In this thread and without an await per run: the model's hot path.
      for (const i of share) {
        const p = planned[i]!;
        try {
          results[i] = backend.runSync(p.spec, p.profile);
        } catch (error) {
          results[i] = errorRun(p.spec, p.profile, backend.name, error);
        }
        if (bail && failed(results[i])) break;
      }
      if (bail && share.some((i) => failed(results[i]))) stop = true;
    } else {
      // Real machines run as a pool of at most `jobs` at once.
      let next = 0;
      const lane = async () => {
        while (!stop && next < share.length) {
          const i = share[next++]!;
          await guarded(backend, i, () => backend.run(planned[i]!.spec, planned[i]!.profile));
        }
      };
      await Promise.all(Array.from({ length: Math.min(jobs, share.length) }, lane));
    }
  }
  return results.filter((r): r is RunResult => r !== undefined);
}

/** The compiled worker; from TypeScript sources (tests, development) it is loaded through tsx. */
function startWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL("./worker.js", self));
  const source = `import("tsx/esm/api").then((api) => { api.register(); return import(${JSON.stringify(new URL("./worker.ts", self).href)}); });`;
  return new Worker(source, { eval: true });
}

async function runInWorkers(
  backend: Backend,
  share: number[],
  planned: Planned[],
  jobs: number,
  results: (RunResult | undefined)[],
): Promise<void> {
  const count = Math.min(jobs, share.length);
  // Contiguous chunks: each worker gets its share once, so messages stay few.
  const size = Math.ceil(share.length / count);
  const runHere = (i: number) => {
    const p = planned[i]!;
    try {
      return backend.runSync ? backend.runSync(p.spec, p.profile) : errorRun(p.spec, p.profile, backend.name, "no worker");
    } catch (error) {
      return errorRun(p.spec, p.profile, backend.name, error);
    }
  };
  await Promise.all(
    Array.from({ length: count }, (_, w) => {
      const chunk = share.slice(w * size, (w + 1) * size);
      if (chunk.length === 0) return Promise.resolve();
      return new Promise<void>((resolvePromise) => {
        let done = false;
        // A worker that fails or dies leaves its share to this thread: slower, never lost.
        const fallBack = () => {
          if (done) return;
          done = true;
          for (const i of chunk) results[i] = runHere(i);
          resolvePromise();
        };
        let worker: Worker;
        try {
          worker = startWorker();
        } catch {
          fallBack();
          return;
        }
        worker.once("message", (answers: WorkerAnswer[]) => {
          if (done) return;
          done = true;
          for (const { id, result } of answers) results[id] = result;
          void worker.terminate();
          resolvePromise();
        });
        worker.once("error", fallBack);
        worker.once("exit", fallBack);
        const job: WorkerJob = {
          recipe: backend.recipe!,
          tasks: chunk.map((i) => ({ id: i, spec: planned[i]!.spec, profile: planned[i]!.profile })),
        };
        worker.postMessage(job);
      });
    }),
  );
}
