// TAP 14: a plan, a test point per run, YAML diagnostics under divergences.
import type { Report } from "../run/runner.js";
import { caseName, testCases } from "./cases.js";
import { disagreementsByRun, judgedBy } from "./summary.js";

function yamlString(text: string): string {
  return JSON.stringify(text); // a JSON string is a valid YAML double-quoted scalar
}

export function formatTap(report: Report): string {
  const cases = testCases(report);
  const disagreed = disagreementsByRun(report);
  const diagnostics = report.files.flatMap((f) => f.diagnostics);
  const lines = ["TAP version 14", `1..${cases.length + diagnostics.length + report.missing.length}`, ...judgedBy(report).map((l) => `# judged by ${l}`)];
  let n = 0;
  for (const missing of report.missing) lines.push(`not ok ${++n} - ${missing}: no such file or directory`);
  for (const d of diagnostics) {
    lines.push(`not ok ${++n} - ${d.file}:${d.line}:${d.column}`);
    lines.push(
      "  ---",
      `  message: ${yamlString(d.message)}`,
      "  severity: error",
      "  at:",
      `    file: ${yamlString(d.file)}`,
      `    line: ${d.line}`,
      `    column: ${d.column}`,
      "  ...",
    );
  }
  for (const run of cases) {
    const title = `${run.file} › ${caseName(run)}`.replace(/#/g, "\\#");
    if (run.status === "unsupported") {
      lines.push(`ok ${++n} - ${title} # SKIP unsupported on ${run.backend}: ${(run.reason ?? "").replace(/\n/g, " ")}`);
      continue;
    }
    const disagreements = disagreed.get(run) ?? [];
    if (run.status === "passed" && disagreements.length === 0) {
      lines.push(`ok ${++n} - ${title}`);
      // What the real backend could not see: no failure, a diagnostic line each.
      for (const e of run.expectations) if (e.outcome === "unseen") lines.push(`# ${run.file}:${e.line}:${e.column} unseen: ${e.actual.replace(/\n/g, " ")}`);
      continue;
    }
    lines.push(`not ok ${++n} - ${title}`);
    const failures = run.expectations.filter((e) => e.outcome === "diverged" || e.outcome === "xpass");
    lines.push("  ---");
    if (run.status === "passed") lines.push(`  message: ${yamlString(`disagrees with the model at ${disagreements.length} expectation${disagreements.length === 1 ? "" : "s"}`)}`, "  severity: fail");
    else if (run.status === "error") lines.push(`  message: ${yamlString(run.reason ?? "error")}`, "  severity: error");
    else if (run.status === "crashed" && run.crash) {
      const c = run.crash;
      lines.push(`  message: ${yamlString(run.reason ?? c.report)}`, "  severity: crash", `  crash:`, `    software: ${yamlString(c.software)}`, `    report: ${yamlString(c.report)}`);
      if (c.line !== undefined) lines.push(`    at: { file: ${yamlString(run.file)}, line: ${c.line}, column: ${c.column} }`);
      if (c.function) lines.push(`    function: ${yamlString(c.function)}`);
      if (c.warning) lines.push("    warning: true");
      if (c.also?.length) lines.push(`    also: [${c.also.map(yamlString).join(", ")}]`);
      if (c.trace?.length) lines.push(`    trace: [${c.trace.map(yamlString).join(", ")}]`);
    }
    else {
      lines.push(
        `  message: ${yamlString(`${failures.length} expectation${failures.length === 1 ? "" : "s"} diverged`)}`,
        "  severity: fail",
        "  divergences:",
      );
      for (const e of failures) {
        lines.push(`    - at: { file: ${yamlString(run.file)}, line: ${e.line}, column: ${e.column} }`);
        lines.push(
          `      source: ${yamlString(e.source)}`,
          `      outcome: ${e.outcome}`,
          `      expected: ${yamlString(`${e.op === "!=" ? "not " : ""}${e.expected}`)}`,
          `      actual: ${yamlString(e.actual)}`,
        );
        if (e.note !== undefined) lines.push(`      seen: ${yamlString(e.note)}`);
        if (e.steps?.length) lines.push("      steps:", ...e.steps.slice(-10).map((s) => `        - ${yamlString(s)}`));
      }
    }
    if (disagreements.length > 0) {
      lines.push("  disagreements:");
      for (const d of disagreements) {
        lines.push(`    - at: { file: ${yamlString(d.file)}, line: ${d.line}, column: ${d.column} }`);
        lines.push(`      source: ${yamlString(d.source)}`, `      model: ${yamlString(d.model)}`, `      ${run.backend}: ${yamlString(d.actual)}`);
      }
    }
    lines.push("  ...");
  }
  return `${lines.join("\n")}\n`;
}
