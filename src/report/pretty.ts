// The default reporter: a line per spec with a cell per profile; under a divergence the
// spec line with a caret, expected against actual, and the last steps.
import kleur from "kleur";
import { formatDiagnostic, sourceLine } from "../compile/diagnostics.js";
import type { Report } from "../run/runner.js";
import type { ExpectationOutcome, RunResult } from "../run/outcome.js";
import { bySpec, hasXfail, summarize } from "./summary.js";
import { PROFILE_NAMES } from "../engine/profiles.js";
import { compare } from "./differential.js";

const LAST_STEPS = 5;

function cell(run: RunResult | undefined): string {
  if (!run) return kleur.gray("·");
  switch (run.status) {
    case "passed":
      return hasXfail(run) ? kleur.yellow("✓x") : kleur.green("✓");
    case "diverged":
      return kleur.red("✗");
    case "error":
      return kleur.red().bold("!");
    case "unsupported":
      return kleur.gray("?");
  }
}

function divergence(run: RunResult, e: ExpectationOutcome, sources: Map<string, string>): string[] {
  const what = e.outcome === "xpass" ? `unexpectedly matched (xfail "${e.xfail}")` : e.action ? "the action did not succeed" : "diverged";
  const lines = [
    kleur.bold(`    ${run.file}:${e.line}:${e.column}`) +
      ` ${what} under ${run.profile}${run.backend !== "model" ? ` on ${run.backend}` : ""}`,
  ];
  const text = sourceLine(sources.get(run.file) ?? "", e.line);
  if (text !== undefined) {
    lines.push(`      ${text}`);
    lines.push(`      ${" ".repeat(Math.max(0, e.column - 1))}${kleur.red("^")}`);
  }
  const expected = `${e.op === "!=" ? "not " : ""}${e.expected}`;
  const width = Math.max(expected.length, 8);
  lines.push(`      ${kleur.gray("expected")} ${kleur.green(expected.padEnd(width))}  ${kleur.gray("actual")} ${kleur.red(e.actual)}`);
  const steps = e.steps ?? [];
  if (steps.length > 0) {
    const shown = steps.slice(-LAST_STEPS);
    const omitted = steps.length - shown.length + (e.stepsOmitted ?? 0);
    lines.push(`      ${kleur.gray(`after${omitted > 0 ? ` … ${omitted} earlier steps,` : ""}`)}`);
    for (const step of shown) lines.push(`        ${kleur.gray(step)}`);
  }
  return lines;
}

export function formatPretty(report: Report): string {
  const out: string[] = [];
  const sources = new Map(report.files.map((f) => [f.file, f.source]));
  const profiles = PROFILE_NAMES.filter((p) => report.runs.some((r) => r.profile === p));
  for (const file of report.files) {
    for (const d of file.diagnostics) out.push(kleur.red(formatDiagnostic(d, file.source)));
  }
  for (const missing of report.missing) out.push(kleur.red(`${missing}: no such file or directory`));
  const grouped = bySpec(report.runs);
  // A loop, not Math.max(...runs): spreading 100,000+ arguments overflows the stack.
  let nameWidth = 10;
  for (const run of report.runs) nameWidth = Math.max(nameWidth, Math.min(60, run.spec.length));
  for (const [file, specs] of grouped) {
    out.push(kleur.bold().underline(file));
    for (const [spec, runs] of specs) {
      const failed = runs.some((r) => r.status === "diverged" || r.status === "error");
      const name = spec.length > nameWidth ? `${spec.slice(0, nameWidth - 1)}…` : spec.padEnd(nameWidth);
      const backends = [...new Set(runs.map((r) => r.backend))];
      for (const backend of backends) {
        const cells = profiles.map((p) => `${kleur.gray(p)} ${cell(runs.find((r) => r.profile === p && r.backend === backend))}`);
        const mark = failed ? kleur.red("✗") : kleur.green("✓");
        const label = backends.length > 1 || backend !== "model" ? kleur.gray(` [${backend}]`) : "";
        out.push(`  ${mark} ${name}  ${cells.join("  ")}${label}`);
      }
      for (const run of runs) {
        if (run.reason) out.push(`    ${kleur.gray(`${run.profile} on ${run.backend}: ${run.reason}`)}`);
        for (const e of run.expectations) if (e.outcome === "diverged" || e.outcome === "xpass") out.push(...divergence(run, e, sources));
      }
    }
  }
  for (const c of compare(report)) {
    const many = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
    out.push(kleur.bold(`model vs ${c.backend}: ${many(c.disagreements.length, "disagreement")} in ${many(c.compared, "run")} run on both`));
    for (const d of c.disagreements)
      out.push(`  ${d.file}:${d.line}:${d.column} ${d.source}\n    model ${d.model}  ${d.backend} ${d.actual}`);
  }
  const s = summarize(report);
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const parts = [
    plural(s.specs, "spec"),
    plural(s.runs, "run"),
    kleur.green(`${s.passed} passed`),
    (s.diverged ? kleur.red : kleur.gray)(`${s.diverged} diverged`),
    (s.errors ? kleur.red : kleur.gray)(plural(s.errors, "error")),
  ];
  if (s.unsupported) parts.push(kleur.gray(`${s.unsupported} unsupported`));
  out.push(`${parts.join(", ")} (${plural(s.files, "file")})`);
  return `${out.join("\n")}\n`;
}
