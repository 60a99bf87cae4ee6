// Files × specs × profiles → results, in a deterministic order whatever the parallelism.
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import { compileSource } from "../compile/index.js";
import { diagnostic, type Diagnostic } from "../compile/diagnostics.js";
import type { CompiledSpec } from "../compile/program.js";
import type { ProfileName } from "../engine/types.js";
import type { Backend, BackendIdentity } from "../backends/backend.js";
import { ModelBackend } from "../backends/model.js";
import { errorRun, type RunResult } from "../verdict/outcome.js";
import { findSpecFiles, readSpecFile } from "./files.js";
import { profilesFor, selected, type Selection } from "./select.js";
import type { WorkerAnswer, WorkerJob } from "./worker.js";

export interface RunOptions extends Selection {
  bail?: boolean;
  jobs?: number;
  backends?: Backend[];
  /** "auto" (default): workers only when they pay for themselves; "always": whenever jobs > 1 (for tests of the workers). */
  spread?: "auto" | "always";
  /** Told as real machines finish runs (a backend that runs its share as a batch): done of total. */
  progress?: (done: number, total: number) => void;
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
  /** The backends that ran, which of them are real software, and what real software judged. */
  backends: { name: string; real: boolean; identity?: BackendIdentity }[];
  /** How many worker threads answered: how a run was spread, not what it found (no reporter shows it). */
  threads: number;
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
  const backends: readonly Backend[] = options.backends ?? [new ModelBackend(options.bail)];
  const planned: Planned[] = [];
  for (const file of files) {
    for (const spec of file.specs) {
      if (!selected(spec, options)) continue;
      for (const backend of backends) {
        for (const profile of profilesFor(spec, options, backend.profiles)) planned.push({ spec, profile, backend });
      }
    }
  }
  const { runs, threads } = await execute(planned, backends, options);
  const described = backends.map((b) => {
    const identity = b.identity?.();
    return { name: b.name, real: b.real, ...(identity ? { identity } : {}) };
  });
  return { files, runs, missing, backends: described, threads };
}

/**
 * Worker threads are used only when they pay for themselves. A share starts in this thread; after
 * PROBE_MS the runs done so far say how long the rest takes here, and copying one spec says what
 * sending the rest costs. The rest goes to `jobs - 1` workers and this thread together only when that
 * is clearly quicker than finishing here. Starting a worker (its thread and modules) was measured at
 * about 180 ms compiled; from TypeScript sources it loads through tsx, slower still.
 */
const PROBE_MS = 25;
const WORKER_START_MS = import.meta.url.endsWith(".ts") ? 1000 : 200;
const failed = (r: RunResult | undefined) => r !== undefined && r.status !== "passed" && r.status !== "unsupported";

/** Each backend's share, in the way the backend says it runs best; results keep the planned order. */
async function execute(
  planned: Planned[],
  backends: readonly Backend[],
  options: RunOptions,
): Promise<{ runs: RunResult[]; threads: number }> {
  const results: (RunResult | undefined)[] = new Array(planned.length);
  let threads = 0;
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
  // Real machines' runs, counted for a progress line as they finish.
  const batched = planned.filter((p) => p.backend.runBatch).length;
  let batchedDone = 0;
  for (const backend of backends) {
    if (stop) break;
    const share = planned.flatMap((p, i) => (p.backend === backend ? [i] : []));
    if (share.length === 0) continue;
    if (backend.runBatch) {
      const tasks = share.map((i) => ({ spec: planned[i]!.spec, profile: planned[i]!.profile }));
      const before = batchedDone;
      try {
        const batch = await backend.runBatch(tasks, jobs, (done) => options.progress?.((batchedDone = before + done), batched));
        share.forEach((i, k) => (results[i] = batch[k]));
        batchedDone = before + share.length;
      } catch (error) {
        share.forEach((i) => (results[i] = errorRun(planned[i]!.spec, planned[i]!.profile, backend.name, error)));
      }
      if (bail && share.some((i) => failed(results[i]))) stop = true;
    } else if (backend.recipe && backend.runSync && jobs > 1 && !bail) {
      threads += await runAdaptively(backend, share, planned, jobs, results, options.spread ?? "auto");
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
  return { runs: results.filter((r): r is RunResult => r !== undefined), threads };
}

/** The compiled worker; from TypeScript sources (tests, development) it is loaded through tsx. */
function startWorker(): Worker {
  const self = import.meta.url;
  if (!self.endsWith(".ts")) return new Worker(new URL("./worker.js", self));
  const source = `import("tsx/esm/api").then((api) => { api.register(); return import(${JSON.stringify(new URL("./worker.ts", self).href)}); });`;
  return new Worker(source, { eval: true });
}

/**
 * Whether spreading the rest of a share pays: `restMs` of work left, `copyMs` to copy the specs sent
 * once, over `chunks` lanes on `cores` cores. Specs are copied out and results back, in part on
 * this thread, and a copy is garbage later: a copy counts three times what one clone took. Workers
 * must win by a clear margin, since two threads on few cores also share the collector and memory
 * bandwidth.
 */
export function spreadPays(restMs: number, copyMs: number, chunks: number, cores: number): boolean {
  const withWorkers = WORKER_START_MS + 3 * copyMs + restMs / Math.max(1, Math.min(chunks, cores));
  return withWorkers <= 0.6 * restMs;
}

/** Runs a share as the comment on PROBE_MS says; answers how many worker threads answered. */
async function runAdaptively(
  backend: Backend,
  share: number[],
  planned: Planned[],
  jobs: number,
  results: (RunResult | undefined)[],
  spread: "auto" | "always",
): Promise<number> {
  const runHere = (i: number) => {
    const p = planned[i]!;
    try {
      results[i] = backend.runSync!(p.spec, p.profile);
    } catch (error) {
      results[i] = errorRun(p.spec, p.profile, backend.name, error);
    }
  };
  const started = performance.now();
  let done = 0;
  let elapsed = 0;
  while (done < share.length && elapsed < PROBE_MS) {
    runHere(share[done++]!);
    elapsed = performance.now() - started;
  }
  const rest = share.slice(done);
  if (rest.length < jobs) {
    rest.forEach(runHere);
    return 0;
  }
  // Contiguous chunks: each worker gets its share once, so messages stay few; this thread runs the first.
  const size = Math.ceil(rest.length / jobs);
  const chunks = Array.from({ length: jobs }, (_, w) => rest.slice(w * size, (w + 1) * size)).filter((c) => c.length > 0);
  const restMs = (rest.length * elapsed) / done;
  const sample = planned[share[0]!]!.spec;
  const copyStarted = performance.now();
  structuredClone(sample);
  const copyMsPerStep = (performance.now() - copyStarted) / Math.max(1, sample.steps.length);
  const sent = new Set(chunks.slice(1).flatMap((c) => c.map((i) => planned[i]!.spec)));
  const sentSteps = [...sent].reduce((n, spec) => n + spec.steps.length, 0);
  if (spread !== "always" && !spreadPays(restMs, copyMsPerStep * sentSteps, chunks.length, availableParallelism())) {
    rest.forEach(runHere);
    return 0;
  }
  let answered = 0;
  const inWorkers = chunks.slice(1).map(
    (chunk) =>
      new Promise<void>((resolvePromise) => {
        let settled = false;
        // A worker that fails or dies leaves its share to this thread: slower, never lost.
        const fallBack = () => {
          if (settled) return;
          settled = true;
          chunk.forEach(runHere);
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
          if (settled) return;
          settled = true;
          answered++;
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
      }),
  );
  chunks[0]!.forEach(runHere);
  await Promise.all(inWorkers);
  return answered;
}
