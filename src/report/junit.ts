// JUnit XML as GitLab and Jenkins read it: a testsuite per file, a testcase per run (see cases.ts).
import type { Report } from "../run/runner.js";
import { attributes, escapeXml } from "./xml.js";
import { caseName, testCases } from "./cases.js";
import type { RunResult } from "../verdict/outcome.js";
import type { Disagreement } from "./differential.js";
import { disagreementLine, disagreementsByRun } from "./summary.js";

/** What real software judged the runs, as JUnit properties (CI views show them per suite). */
function properties(report: Pick<Report, "backends">): string[] {
  const props = report.backends.flatMap((b) =>
    b.real && b.identity ? Object.entries(b.identity).map(([key, value]) => `      <property${attributes({ name: `${b.name}.${key}`, value })}/>`) : [],
  );
  return props.length > 0 ? ["    <properties>", ...props, "    </properties>"] : [];
}

/** A run that passed on a real backend still fails where the model saw another value. */
function disagreementFailure(run: RunResult, disagreements: readonly Disagreement[]): string {
  const message = `disagrees with the model: ${disagreementLine(disagreements[0]!)}`;
  const details = disagreements.map((d) => `${disagreementLine(d)}\n  model    ${d.model}\n  ${run.backend.padEnd(8)} ${d.actual}`).join("\n\n");
  return `<failure${attributes({ message, type: "disagreement" })}>${escapeXml(details)}</failure>`;
}

function body(run: RunResult, disagreements: readonly Disagreement[] = []): string {
  if (run.status === "unsupported") return `<skipped${attributes({ message: `unsupported on ${run.backend}: ${run.reason ?? ""}` })}/>`;
  if (run.status === "error") return `<error${attributes({ message: run.reason ?? "error", type: "error" })}/>`;
  if (run.status === "crashed" && run.crash) {
    const c = run.crash;
    const where = c.line !== undefined ? `${run.file}:${c.line}:${c.column}: ${c.source ?? ""}\n` : "";
    const details = `${where}${c.report}${c.function ? `\n  in ${c.function}` : ""}${c.trace?.length ? `\n  trace:\n    ${c.trace.join("\n    ")}` : ""}${c.also?.length ? `\n  then:\n    ${c.also.join("\n    ")}` : ""}`;
    return `<failure${attributes({ message: run.reason ?? c.report, type: c.warning ? "warning" : "crash" })}>${escapeXml(details)}</failure>`;
  }
  const failures = run.expectations.filter((e) => e.outcome === "diverged" || e.outcome === "xpass");
  if (failures.length === 0) return disagreements.length > 0 ? disagreementFailure(run, disagreements) : "";
  const first = failures[0]!;
  const message = `${run.file}:${first.line}:${first.column}: expected ${first.op === "!=" ? "not " : ""}${first.expected}, actual ${first.actual}`;
  const disagreed = disagreements.map((d) => `\n\n${disagreementLine(d)}`).join("");
  const details = failures
    .map(
      (e) =>
        `${run.file}:${e.line}:${e.column}: ${e.source}\n  ${e.outcome === "xpass" ? `unexpectedly matched (xfail "${e.xfail}")` : `expected ${e.op === "!=" ? "not " : ""}${e.expected}\n  actual   ${e.actual}${e.note !== undefined ? `\n  seen     ${e.note}` : ""}`}${e.steps?.length ? `\n  after:\n    ${e.steps.slice(-10).join("\n    ")}` : ""}`,
    )
    .join("\n\n");
  return `<failure${attributes({ message, type: first.outcome })}>${escapeXml(details + disagreed)}</failure>`;
}

export function formatJunit(report: Report): string {
  const cases = testCases(report);
  const disagreed = disagreementsByRun(report);
  const judged = properties(report);
  const files = [...new Set([...report.files.map((f) => f.file), ...cases.map((c) => c.file)])];
  const count = (list: RunResult[]) => ({
    tests: list.length,
    failures: list.filter((c) => c.status === "diverged" || c.status === "crashed" || (c.status === "passed" && disagreed.has(c))).length,
    errors: list.filter((c) => c.status === "error").length,
    skipped: list.filter((c) => c.status === "unsupported").length,
  });
  const lines: string[] = [];
  const diagnostics = report.files.flatMap((f) => f.diagnostics);
  const totals = count(cases);
  lines.push('<?xml version="1.0" encoding="UTF-8"?>');
  lines.push(
    `<testsuites${attributes({ name: "tcespec", tests: totals.tests + diagnostics.length + report.missing.length, failures: totals.failures, errors: totals.errors + diagnostics.length + report.missing.length, skipped: totals.skipped })}>`,
  );
  for (const missing of report.missing) {
    lines.push(`  <testsuite${attributes({ name: missing, file: missing, tests: 1, failures: 0, errors: 1, skipped: 0 })}>`);
    lines.push(
      `    <testcase${attributes({ name: missing, classname: missing, file: missing })}><error${attributes({ message: `${missing}: no such file or directory`, type: "missing" })}/></testcase>`,
    );
    lines.push("  </testsuite>");
  }
  const casesByFile = new Map<string, RunResult[]>();
  for (const c of cases) {
    const list = casesByFile.get(c.file);
    if (list) list.push(c);
    else casesByFile.set(c.file, [c]);
  }
  const diagnosticsByFile = new Map(report.files.map((f) => [f.file, f.diagnostics]));
  for (const file of files) {
    const own = casesByFile.get(file) ?? [];
    const fileDiagnostics = diagnosticsByFile.get(file) ?? [];
    const n = count(own);
    const suite = own[0]?.suite ?? file;
    lines.push(
      `  <testsuite${attributes({ name: suite, file, tests: n.tests + fileDiagnostics.length, failures: n.failures, errors: n.errors + fileDiagnostics.length, skipped: n.skipped })}>`,
    );
    lines.push(...judged);
    for (const d of fileDiagnostics) {
      lines.push(
        `    <testcase${attributes({ name: `${file}:${d.line}:${d.column}`, classname: file, file })}><error${attributes({ message: `${d.file}:${d.line}:${d.column}: ${d.message}`, type: "spec error" })}/></testcase>`,
      );
    }
    for (const c of own) {
      const line = c.expectations.find((e) => e.outcome === "diverged" || e.outcome === "xpass")?.line;
      // What the real backend could not see: no failure, said where CI shows a test's output.
      const unseen = c.expectations.filter((e) => e.outcome === "unseen").map((e) => `${c.file}:${e.line}:${e.column}: ${e.source}: ${e.actual}`);
      const out = unseen.length > 0 ? `<system-out>${escapeXml(unseen.join("\n"))}</system-out>` : "";
      lines.push(
        `    <testcase${attributes({ name: caseName(c), classname: `${c.file}.${c.suite}`, file: c.file, line })}>${body(c, disagreed.get(c))}${out}</testcase>`,
      );
    }
    lines.push("  </testsuite>");
  }
  lines.push("</testsuites>");
  return `${lines.join("\n")}\n`;
}
