// Spec files as vitest tests: one test per spec × profile. In a vitest file:
//   import { specSuite } from "tcespec/vitest";
//   specSuite(["specs"]);
//   specSuite(["specs/hotplug"], { backend: "qemu", profiles: ["qemu-7.2"], tags: ["hotplug"] });
// A failure points at the .tce line that diverged, not at this file: vitest shows that line.
import { resolve } from "node:path";
import { afterAll, beforeAll, describe, it } from "vitest";
import { compileFiles, run, type Report } from "./run/runner.js";
import { formatDiagnostic } from "./compile/diagnostics.js";
import { ModelBackend } from "./backends/model.js";
import { createBackend } from "./backends/index.js";
import type { Backend, BackendOptions } from "./backends/backend.js";
import type { ProfileName } from "./engine/types.js";
import type { RunResult } from "./verdict/outcome.js";
import { profilesFor, selected, type Selection } from "./run/select.js";

export interface SpecSuiteOptions extends BackendOptions {
  /** Only these profiles (default: each spec's own). */
  profiles?: readonly ProfileName[];
  /** Only specs with one of these tags. */
  tags?: string[];
  /** Only specs whose name contains this text. */
  grep?: string;
  /** "model" (default), "qemu" or "kvm". A real backend runs every selected spec once, before the tests. */
  backend?: string;
  /** Milliseconds for a real backend's whole batch (default ten minutes). */
  batchTimeoutMs?: number;
}

export function describeFailure(run: RunResult): string {
  const lines = [`${run.spec} under ${run.profile}: ${run.status}${run.reason ? ` (${run.reason})` : ""}`];
  for (const e of run.expectations) {
    if (e.outcome !== "diverged" && e.outcome !== "xpass") continue;
    lines.push(`  ${run.file}:${e.line}:${e.column}: ${e.source}`);
    lines.push(
      e.outcome === "xpass"
        ? `    unexpectedly matched (xfail "${e.xfail}")`
        : `    expected ${e.op === "!=" ? "not " : ""}${e.expected}, actual ${e.actual}`,
    );
  }
  return lines.join("\n");
}

/** An error whose only stack frame is the spec file's line, so vitest shows that line. */
export function errorAt(message: string, file: string, line: number, column: number): Error {
  const error = new Error(message);
  error.stack = `Error: ${message}\n    at ${resolve(file)}:${line}:${column}`;
  return error;
}

function failure(run: RunResult, spec: { line: number; column: number }): Error {
  const first = run.expectations.find((e) => e.outcome === "diverged" || e.outcome === "xpass") ?? spec;
  return errorAt(describeFailure(run), run.file, first.line, first.column);
}

/** Registers a describe block per file and a test per spec × profile. */
export function specSuite(paths: string[], options: SpecSuiteOptions = {}): void {
  const { files, missing } = compileFiles(paths);
  const selection: Selection = { profiles: options.profiles ? [...options.profiles] : undefined, tags: options.tags, grep: options.grep };
  const name = options.backend ?? "model";
  const model = name === "model" ? new ModelBackend() : undefined;
  let backend: Backend | undefined = model;
  let report: Report | undefined;
  let setupError: unknown;
  if (!model) {
    beforeAll(async () => {
      try {
        backend = await createBackend(name, options);
        report = await run(paths, { ...selection, backends: [backend] });
      } catch (error) {
        setupError = error;
      }
    }, options.batchTimeoutMs ?? 600_000);
    afterAll(async () => backend?.close?.());
  }
  const resultOf = (file: string, spec: string, profile: ProfileName): RunResult | undefined => {
    if (setupError) throw setupError instanceof Error ? setupError : new Error(String(setupError));
    return report?.runs.find((r) => r.file === file && r.spec === spec && r.profile === profile);
  };
  for (const path of missing)
    it(`${path} exists`, () => {
      throw new Error(`${path}: no such file or directory`);
    });
  for (const file of files) {
    describe(file.file, () => {
      if (file.diagnostics.length > 0) {
        it("compiles", () => {
          const first = file.diagnostics[0]!;
          throw errorAt(file.diagnostics.map((d) => formatDiagnostic(d, file.source)).join("\n"), file.file, first.line, first.column);
        });
      }
      for (const spec of file.specs) {
        if (!selected(spec, selection)) continue;
        for (const profile of profilesFor(spec, selection, model?.profiles ?? spec.profiles)) {
          it(`${spec.name} [${profile}]`, (context) => {
            const result = model ? model.runSync(spec, profile) : resultOf(file.file, spec.name, profile);
            // A real backend stands for some profiles only; what it cannot run is skipped, never passed.
            if (!result) return context.skip(`${name} does not run ${profile}`);
            if (result.status === "unsupported") return context.skip(`unsupported on ${name}: ${result.reason ?? ""}`);
            if (result.status !== "passed") throw failure(result, spec);
          });
        }
      }
    });
  }
}
