// The JSON report: the contract in LANGUAGE.md plus added fields. Same input, same bytes.
import type { Report } from "../run/runner.js";
import { summarize } from "./summary.js";
import { VERSION } from "../version.js";
import { compare } from "./differential.js";

export function jsonReport(report: Report): object {
  const summary = summarize(report);
  const diffs = compare(report).flatMap((c) => c.disagreements);
  const document: Record<string, unknown> = {
    tool: { name: "tcespec", version: VERSION },
    summary,
    backends: report.backends.map((b) => ({ name: b.name, real: b.real, ...b.identity })),
    runs: report.runs.map((run) => ({
      file: run.file,
      suite: run.suite,
      spec: run.spec,
      tags: run.tags,
      profile: run.profile,
      backend: run.backend,
      status: run.status,
      ...(run.reason !== undefined ? { reason: run.reason } : {}),
      ...(run.crash ? { crash: run.crash } : {}),
      expectations: run.expectations.map((e) => ({
        line: e.line,
        column: e.column,
        outcome: e.outcome,
        expected: e.expected,
        actual: e.actual,
        op: e.op,
        source: e.source,
        ...(e.action ? { action: true } : {}),
        ...(e.xfail !== undefined ? { xfail: e.xfail } : {}),
        ...(e.note !== undefined ? { note: e.note } : {}),
        ...(e.steps ? { steps: e.steps, stepsOmitted: e.stepsOmitted ?? 0 } : {}),
        ...(e.state ? { state: e.state } : {}),
      })),
    })),
    errors: [
      ...report.missing.map((file) => ({ file, line: 1, column: 1, message: "no such file or directory" })),
      ...report.files.flatMap((f) => f.diagnostics.map((d) => ({ file: d.file, line: d.line, column: d.column, message: d.message }))),
    ],
  };
  if (diffs.length > 0) document.disagreements = diffs;
  return document;
}

export function formatJson(report: Report): string {
  return `${JSON.stringify(jsonReport(report), null, 2)}\n`;
}
