// Model vs QEMU: every expectation where the two backends saw different values.
import type { RunResult } from "../run/outcome.js";

export interface Disagreement {
  file: string;
  spec: string;
  line: number;
  column: number;
  source: string;
  model: string;
  qemu: string;
}

export function disagreements(runs: RunResult[]): Disagreement[] {
  if (!runs.some((run) => run.backend === "qemu")) return [];
  const model = new Map<string, RunResult>();
  for (const run of runs) if (run.backend === "model" && run.profile === "qemu-7.2") model.set(`${run.file}\u0000${run.spec}`, run);
  const result: Disagreement[] = [];
  for (const run of runs) {
    if (run.backend !== "qemu" || run.status === "unsupported" || run.status === "error") continue;
    const twin = model.get(`${run.file}\u0000${run.spec}`);
    if (!twin) continue;
    const modelByPos = new Map(twin.expectations.map((e) => [`${e.line}:${e.column}`, e]));
    for (const e of run.expectations) {
      const m = modelByPos.get(`${e.line}:${e.column}`);
      if (e.outcome === "skipped") continue;
      // A bare action shows up only where it failed: a missing twin means the other side succeeded.
      const modelActual = m ? m.actual : e.action ? e.expected : undefined;
      if (modelActual === undefined || modelActual === e.actual) continue;
      result.push({ file: run.file, spec: run.spec, line: e.line, column: e.column, source: e.source, model: modelActual, qemu: e.actual });
    }
    for (const m of twin.expectations) {
      if (!m.action || run.expectations.some((e) => e.line === m.line && e.column === m.column)) continue;
      result.push({ file: run.file, spec: run.spec, line: m.line, column: m.column, source: m.source, model: m.actual, qemu: m.expected });
    }
  }
  return result.sort((a, b) => (a.file < b.file ? -1 : a.file > b.file ? 1 : a.line - b.line || a.column - b.column));
}
