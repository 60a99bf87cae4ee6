// Counts every reporter prints, from one place.
import type { Report } from "../run/runner.js";
import type { RunResult } from "../verdict/outcome.js";
import { compare, type Disagreement } from "./differential.js";

export interface Summary {
  files: number;
  specs: number;
  runs: number;
  passed: number;
  diverged: number;
  /** Runs under which real software crashed (a verdict): set when there are any. */
  crashed?: number;
  errors: number;
  unsupported: number;
  /** Where a real backend saw another value than the model: set when the run had both. */
  disagreements?: number;
  /** Expectations a real backend ran but could not see the answer of (no verdict): set when there are any. */
  unseen?: number;
}

export function summarize(report: Report): Summary {
  const specs = new Set(report.runs.map((r) => `${r.file}\u0000${r.spec}`));
  const comparisons = compare(report);
  const errors =
    report.missing.length + report.files.reduce((n, f) => n + f.diagnostics.length, 0) + report.runs.filter((r) => r.status === "error").length;
  return {
    files: report.files.length,
    specs: specs.size,
    runs: report.runs.length,
    passed: report.runs.filter((r) => r.status === "passed").length,
    diverged: report.runs.filter((r) => r.status === "diverged").length,
    ...(report.runs.some((r) => r.status === "crashed") ? { crashed: report.runs.filter((r) => r.status === "crashed").length } : {}),
    errors,
    unsupported: report.runs.filter((r) => r.status === "unsupported").length,
    ...(comparisons.length > 0 ? { disagreements: comparisons.reduce((n, c) => n + c.disagreements.length, 0) } : {}),
    ...unseenCount(report.runs),
  };
}

function unseenCount(runs: RunResult[]): { unseen?: number } {
  let n = 0;
  for (const run of runs) for (const e of run.expectations) if (e.outcome === "unseen") n++;
  return n > 0 ? { unseen: n } : {};
}

/**
 * 0 every spec passed, 1 something diverged, crashed real software, or xpassed, or a real backend disagreed with the model
 * (even where both runs passed: an `!=` or an xfail can pass on both with different values), 2 spec
 * errors or bad usage.
 */
export function exitCode(report: Report): 0 | 1 | 2 {
  const summary = summarize(report);
  if (summary.errors > 0 || report.missing.length > 0) return 2;
  return summary.diverged > 0 || (summary.crashed ?? 0) > 0 || (summary.disagreements ?? 0) > 0 ? 1 : 0;
}

/** Each real run's disagreements with the model's run of the same spec and profile. */
export function disagreementsByRun(report: Pick<Report, "runs" | "backends">): Map<RunResult, Disagreement[]> {
  const byKey = new Map<string, Disagreement[]>();
  for (const d of compare(report).flatMap((c) => c.disagreements)) {
    const key = `${d.file}\u0000${d.spec}\u0000${d.profile}\u0000${d.backend}`;
    byKey.set(key, [...(byKey.get(key) ?? []), d]);
  }
  const result = new Map<RunResult, Disagreement[]>();
  for (const run of report.runs) {
    const found = byKey.get(`${run.file}\u0000${run.spec}\u0000${run.profile}\u0000${run.backend}`);
    if (found) result.set(run, found);
  }
  return result;
}

/** A disagreement as one line: where, what the model said and what the real backend saw. */
export function disagreementLine(d: Disagreement): string {
  return `${d.file}:${d.line}:${d.column}: ${d.source}: model ${d.model}, ${d.backend} ${d.actual}`;
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

/** Each real backend that ran, as one line: "qemu: QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18) at /usr/bin/qemu-system-ppc64". */
export function judgedBy(report: Pick<Report, "backends">): string[] {
  return report.backends
    .filter((b) => b.real && b.identity)
    .map(({ name, identity }) => {
      const host = identity!.host ? ` on the ${identity!.host} host` : "";
      const parts = [identity!.qemu ?? "QEMU of unknown version", ...(identity!.kernel ? [`on Linux ${identity!.kernel}${host}`] : [])];
      return `${name}: ${parts.join(" ")}${identity!.build ? `, ${identity!.build}` : ""}${identity!.where ? ` (${identity!.where})` : ""}`;
    });
}
