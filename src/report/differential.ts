// The model against real software: every expectation where a real backend saw another value
// than the model's run of the same spec and profile. Which backends are real, the report says.
import type { Report } from "../run/runner.js";
import { disagree, type RunResult } from "../verdict/outcome.js";

export interface Disagreement {
  file: string;
  spec: string;
  profile: string;
  backend: string;
  line: number;
  column: number;
  source: string;
  model: string;
  actual: string;
}

/** One real backend against the model. */
export interface Comparison {
  backend: string;
  /** Runs that ran on both sides (neither unsupported nor errored). */
  compared: number;
  disagreements: Disagreement[];
}

const key = (run: RunResult) => `${run.file}\u0000${run.spec}\u0000${run.profile}`;
const ran = (run: RunResult) => run.status !== "unsupported" && run.status !== "error";

function differences(run: RunResult, twin: RunResult): Disagreement[] {
  const at = (line: number, column: number, source: string, model: string, actual: string): Disagreement => ({
    file: run.file,
    spec: run.spec,
    profile: run.profile,
    backend: run.backend,
    line,
    column,
    source,
    model,
    actual,
  });
  const result: Disagreement[] = [];
  const modelByPos = new Map(twin.expectations.map((e) => [`${e.line}:${e.column}`, e]));
  for (const e of run.expectations) {
    if (e.outcome === "skipped") continue;
    const m = modelByPos.get(`${e.line}:${e.column}`);
    // A bare action shows up only where it failed: a missing twin means the other side succeeded.
    const modelActual = m ? m.actual : e.action ? e.expected : undefined;
    // What a real backend could not see ("unseen: why") is no answer to disagree with.
    if (modelActual !== undefined && disagree(modelActual, e.actual)) result.push(at(e.line, e.column, e.source, modelActual, e.actual));
  }
  for (const m of twin.expectations) {
    if (!m.action || run.expectations.some((e) => e.line === m.line && e.column === m.column)) continue;
    result.push(at(m.line, m.column, m.source, m.actual, m.expected));
  }
  return result;
}

export function compare(report: Pick<Report, "runs" | "backends">): Comparison[] {
  const reference = new Set(report.backends.filter((b) => !b.real).map((b) => b.name));
  if (reference.size === 0 || !report.backends.some((b) => b.real)) return [];
  const model = new Map<string, RunResult>();
  for (const run of report.runs) if (reference.has(run.backend)) model.set(key(run), run);
  return report.backends
    .filter((b) => b.real)
    .map((backend) => {
      let compared = 0;
      const found: Disagreement[] = [];
      for (const run of report.runs) {
        if (run.backend !== backend.name || !ran(run)) continue;
        const twin = model.get(key(run));
        if (!twin || !ran(twin)) continue;
        compared++;
        found.push(...differences(run, twin));
      }
      found.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
      return { backend: backend.name, compared, disagreements: found };
    });
}

/** Every disagreement of every real backend. */
export function disagreements(report: Pick<Report, "runs" | "backends">): Disagreement[] {
  return compare(report).flatMap((c) => c.disagreements);
}
