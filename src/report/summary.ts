// Counts every reporter prints, from one place.
import type { Report } from "../run/runner.js";
import type { RunResult } from "../run/outcome.js";

export interface Summary {
  files: number;
  specs: number;
  runs: number;
  passed: number;
  diverged: number;
  errors: number;
  unsupported: number;
}

export function summarize(report: Report): Summary {
  const specs = new Set(report.runs.map((r) => `${r.file}\u0000${r.spec}`));
  const errors =
    report.missing.length + report.files.reduce((n, f) => n + f.diagnostics.length, 0) + report.runs.filter((r) => r.status === "error").length;
  return {
    files: report.files.length,
    specs: specs.size,
    runs: report.runs.length,
    passed: report.runs.filter((r) => r.status === "passed").length,
    diverged: report.runs.filter((r) => r.status === "diverged").length,
    errors,
    unsupported: report.runs.filter((r) => r.status === "unsupported").length,
  };
}

/** 0 every spec passed, 1 something diverged or xpassed, 2 spec errors or bad usage. */
export function exitCode(report: Report): 0 | 1 | 2 {
  const summary = summarize(report);
  if (summary.errors > 0 || report.missing.length > 0) return 2;
  return summary.diverged > 0 ? 1 : 0;
}

/** A run passed, with expected divergences among its outcomes. */
export function hasXfail(run: RunResult): boolean {
  return run.expectations.some((e) => e.outcome === "xfail");
}

/** Runs grouped by file, then spec, in report order. */
export function bySpec(runs: RunResult[]): Map<string, Map<string, RunResult[]>> {
  const files = new Map<string, Map<string, RunResult[]>>();
  for (const run of runs) {
    let specs = files.get(run.file);
    if (!specs) files.set(run.file, (specs = new Map()));
    let list = specs.get(run.spec);
    if (!list) specs.set(run.spec, (list = []));
    list.push(run);
  }
  return files;
}
