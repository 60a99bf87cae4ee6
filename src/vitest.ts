// Spec files as vitest tests: one test per spec × profile. In a vitest file:
//   import { specSuite } from "tcespec/vitest";
//   specSuite(["specs"]);
import { describe, it } from "vitest";
import { compileFiles } from "./run/runner.js";
import { formatDiagnostic } from "./compile/diagnostics.js";
import { ModelBackend } from "./backends/model.js";
import type { ProfileName } from "./engine/types.js";
import type { RunResult } from "./run/outcome.js";

export interface SpecSuiteOptions {
  profiles?: readonly ProfileName[];
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

/** Registers a describe block per file and a test per spec × profile. */
export function specSuite(paths: string[], options: SpecSuiteOptions = {}): void {
  const { files, missing } = compileFiles(paths);
  for (const path of missing)
    it(`${path} exists`, () => {
      throw new Error(`${path}: no such file or directory`);
    });
  const backend = new ModelBackend();
  for (const file of files) {
    describe(file.file, () => {
      if (file.diagnostics.length > 0) {
        it("compiles", () => {
          throw new Error(file.diagnostics.map((d) => formatDiagnostic(d, file.source)).join("\n"));
        });
      }
      for (const spec of file.specs) {
        for (const profile of spec.profiles.filter((p) => !options.profiles || options.profiles.includes(p))) {
          it(`${spec.name} [${profile}]`, () => {
            const run = backend.runSync(spec, profile);
            if (run.status !== "passed") throw new Error(describeFailure(run));
          });
        }
      }
    });
  }
}
