// Test cases for JUnit and TAP: one per run, so both count the runs the summary counts. A spec
// limited to some profiles has no case under the others (it is not a test there, skipped or not);
// spec errors and missing paths are cases of their own, as the summary counts them among errors.
import type { Report } from "../run/runner.js";
import type { RunResult } from "../verdict/outcome.js";
import { bySpec } from "./summary.js";

/** Runs grouped by file, then spec, in report order. */
export function testCases(report: Report): RunResult[] {
  return [...bySpec(report.runs).values()].flatMap((specs) => [...specs.values()].flat());
}

export function caseName(run: RunResult): string {
  return `${run.spec} [${run.profile}${run.backend !== "model" ? ` on ${run.backend}` : ""}]`;
}
