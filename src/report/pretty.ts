// The default reporter: a line per spec with a cell per profile; under a divergence the
// spec line with a caret, expected against actual, and the last steps.
import kleur from "kleur";
import { sourceLine } from "../compile/diagnostics.js";
import type { Report } from "../run/runner.js";
import type { ExpectationOutcome, RunResult } from "../verdict/outcome.js";
import { bySpec, hasXfail, judgedBy, summarize } from "./summary.js";
import { PROFILE_NAMES } from "../engine/profiles.js";
import { compare } from "./differential.js";
import { unreachable } from "../unreachable.js";

const LAST_STEPS = 5;

function cell(run: RunResult | undefined): string {
  if (!run) return kleur.gray("·");
  switch (run.status) {
    case "passed":
      return hasXfail(run) ? kleur.yellow("✓x") : kleur.green("✓");
    case "diverged":
      return kleur.red("✗");
    case "crashed":
      return kleur.red().bold("☠");
    case "error":
      return kleur.red().bold("!");
    case "unsupported":
      return kleur.gray("?");
    default:
      return unreachable(run.status);
  }
}

/** Where a run ran, as a divergence names it: the profile, and the backend when it is a real one. */
const under = (run: RunResult) => `${run.profile}${run.backend !== "model" ? ` on ${run.backend}` : ""}`;

/** The same divergence in two runs: same place, same expected and actual. */
const sameDivergence = (e: ExpectationOutcome) => [e.line, e.column, e.outcome, e.op, e.expected, e.actual, e.note ?? ""].join("\u0000");

/**
 * A spec's divergences, said once each: the first of each run, grouped across the profiles and
 * backends where it is the same ("diverged under pre-fix, seed-v10, …"), then the expectations
 * after it that diverged too, on one line (they usually follow from the first).
 */
function divergences(runs: RunResult[], sources: Map<string, string>): string[] {
  type Later = { e: ExpectationOutcome; runs: RunResult[] };
  type Group = { first: ExpectationOutcome; run: RunResult; runs: RunResult[]; later: Map<string, Later> };
  const groups = new Map<string, Group>();
  for (const run of runs) {
    const [first, ...later] = run.expectations.filter((e) => e.outcome === "diverged" || e.outcome === "xpass");
    if (!first) continue;
    const key = sameDivergence(first);
    const group: Group = groups.get(key) ?? { first, run, runs: [], later: new Map() };
    groups.set(key, group);
    group.runs.push(run);
    for (const e of later) {
      const seen: Later = group.later.get(sameDivergence(e)) ?? { e, runs: [] };
      group.later.set(sameDivergence(e), seen);
      seen.runs.push(run);
    }
  }
  const lines: string[] = [];
  for (const group of groups.values()) {
    lines.push(...divergence(group.run, group.first, sources, group.runs.map(under).join(", ")));
    if (group.later.size === 0) continue;
    const each = [...group.later.values()].map(({ e, runs: where }) => {
      const only = where.length < group.runs.length ? ` under ${where.map(under).join(", ")}` : "";
      return `${e.line}:${e.column} ${e.outcome === "xpass" ? "xpassed" : `expected ${e.op === "!=" ? "not " : ""}${e.expected}, actual ${e.actual}`}${only}`;
    });
    const n = group.later.size;
    lines.push(`      ${kleur.gray(`${n} later expectation${n === 1 ? "" : "s"} of this spec also diverged:`)} ${each.join(kleur.gray(" · "))}`);
  }
  return lines;
}

function divergence(run: RunResult, e: ExpectationOutcome, sources: Map<string, string>, where = under(run)): string[] {
  const what = e.outcome === "xpass" ? `unexpectedly matched (xfail "${e.xfail}")` : e.action ? "the action did not succeed" : "diverged";
  const lines = [kleur.bold(`    ${run.file}:${e.line}:${e.column}`) + ` ${what} under ${where}`];
  const text = sourceLine(sources.get(run.file) ?? "", e.line);
  if (text !== undefined) {
    lines.push(`      ${text}`);
    lines.push(`      ${" ".repeat(Math.max(0, e.column - 1))}${kleur.red("^")}`);
  }
  const expected = `${e.op === "!=" ? "not " : ""}${e.expected}`;
  const width = Math.max(expected.length, 8);
  lines.push(`      ${kleur.gray("expected")} ${kleur.green(expected.padEnd(width))}  ${kleur.gray("actual")} ${kleur.red(e.actual)}`);
  if (e.note !== undefined) lines.push(`      ${kleur.gray("seen")}     ${e.note}`);
  const steps = e.steps ?? [];
  if (steps.length > 0) {
    const shown = steps.slice(-LAST_STEPS);
    const omitted = steps.length - shown.length + (e.stepsOmitted ?? 0);
    lines.push(`      ${kleur.gray(`after${omitted > 0 ? ` … ${omitted} earlier step${omitted === 1 ? "" : "s"},` : ""}`)}`);
    for (const step of shown) lines.push(`        ${kleur.gray(step)}`);
  }
  return lines;
}

/** Real software that crashed (or a host kernel that WARNed) under a run: what, where in the spec, the report, the faulting function and the trace. */
function crashLines(run: RunResult, sources: Map<string, string>): string[] {
  const crash = run.crash!;
  const expected = run.status !== "crashed";
  const head = `${crash.software === "QEMU" ? "QEMU" : "the host kernel"} ${crash.warning ? "warned" : "crashed"}${expected ? " (as the spec expects)" : ""} under ${run.profile} on ${run.backend}`;
  const lines = [kleur.bold(`    ${run.file}${crash.line !== undefined ? `:${crash.line}:${crash.column}` : ""}`) + ` ${expected ? head : kleur.red().bold(head)}`];
  const text = crash.line !== undefined ? sourceLine(sources.get(run.file) ?? "", crash.line) : undefined;
  if (text !== undefined) {
    lines.push(`      ${text}`);
    lines.push(`      ${" ".repeat(Math.max(0, (crash.column ?? 1) - 1))}${kleur.red("^")}`);
  }
  lines.push(`      ${kleur.gray("report")}   ${crash.report}`);
  if (crash.function) lines.push(`      ${kleur.gray("in")}       ${crash.function}`);
  if (crash.trace?.length) lines.push(`      ${kleur.gray("trace")}    ${crash.trace.slice(0, 6).join(" ← ")}${crash.trace.length > 6 ? " ← …" : ""}`);
  for (const later of crash.also ?? []) lines.push(`      ${kleur.gray("then")}     ${later}`);
  return lines;
}

/** ✗ a run diverged, crashed or errored; ? nothing ran (every run unsupported); ✓ otherwise. */
function rowMark(row: RunResult[]): string {
  if (row.some((r) => r.status === "diverged" || r.status === "error" || r.status === "crashed")) return kleur.red("✗");
  if (row.every((r) => r.status === "unsupported")) return kleur.gray("?");
  return kleur.green("✓");
}

/** Why runs could not run on a backend: once per reason, with a count and the first place. */
function unsupportedSummary(runs: RunResult[]): string[] {
  const reasons = new Map<string, { count: number; first: string }>();
  for (const run of runs) {
    if (run.status !== "unsupported" || !run.reason) continue;
    const place = /^line (\d+): /.exec(run.reason);
    const reason = `${run.backend}: ${place ? run.reason.slice(place[0].length) : run.reason}`;
    const seen = reasons.get(reason);
    if (seen) seen.count++;
    else reasons.set(reason, { count: 1, first: `${run.file}${place ? `:${place[1]}` : ""}` });
  }
  if (reasons.size === 0) return [];
  const lines = [kleur.bold("unsupported (could not run there):")];
  for (const [reason, { count, first }] of [...reasons].sort((a, b) => b[1].count - a[1].count))
    lines.push(kleur.gray(`  ${String(count).padStart(4)} × ${reason} (first: ${first})`));
  return lines;
}

/** Expectations a real backend ran but could not see: each, with why (no verdict either way). */
function unseenSummary(runs: RunResult[]): string[] {
  const lines: string[] = [];
  for (const run of runs)
    for (const e of run.expectations)
      if (e.outcome === "unseen") lines.push(kleur.gray(`  ${run.file}:${e.line}:${e.column} ${e.source} (${run.profile} on ${run.backend}): ${e.actual}`));
  return lines.length === 0 ? [] : [kleur.bold("unseen (ran, but the answer could not be seen there; no verdict):"), ...lines];
}

export function formatPretty(report: Report): string {
  // Which real software judged: first, so nobody mistakes one QEMU's verdict for another's.
  const out: string[] = judgedBy(report).map((line) => kleur.gray(`judged by ${line}`));
  const sources = new Map(report.files.map((f) => [f.file, f.source]));
  const profiles = PROFILE_NAMES.filter((p) => report.runs.some((r) => r.profile === p));
  // Diagnostics and missing paths are not results: the command line writes them to stderr.
  const grouped = bySpec(report.runs);
  const said = new Set<string>();
  // A loop, not Math.max(...runs): spreading 100,000+ arguments overflows the stack.
  let nameWidth = 10;
  for (const run of report.runs) nameWidth = Math.max(nameWidth, Math.min(60, run.spec.length));
  for (const [file, specs] of grouped) {
    out.push(kleur.bold().underline(file));
    for (const [spec, runs] of specs) {
      // A name longer than the column is never cut: it gets a line of its own, the cells the next.
      const long = spec.length > nameWidth;
      if (long) out.push(`  ${rowMark(runs)} ${spec}`);
      const name = long ? "".padEnd(nameWidth) : spec.padEnd(nameWidth);
      const backends = [...new Set(runs.map((r) => r.backend))];
      for (const backend of backends) {
        const row = runs.filter((r) => r.backend === backend);
        const cells = profiles.map((p) => `${kleur.gray(p)} ${cell(row.find((r) => r.profile === p))}`);
        const label = backends.length > 1 || backend !== "model" ? kleur.gray(` [${backend}]`) : "";
        out.push(`  ${long && backends.length === 1 ? " " : rowMark(row)} ${name}  ${cells.join("  ")}${label}`);
      }
      for (const run of runs) {
        if (run.status === "error" && run.reason) {
          // The same failure (a missing binary, an L1 that did not boot) is said once.
          const key = `${run.backend}\u0000${run.reason}`;
          out.push(`    ${kleur.red(`${run.profile} on ${run.backend}: ${said.has(key) ? "the same error as above" : run.reason}`)}`);
          said.add(key);
        }
        if (run.crash) out.push(...crashLines(run, sources));
      }
      out.push(...divergences(runs, sources));
    }
  }
  out.push(...unsupportedSummary(report.runs));
  out.push(...unseenSummary(report.runs));
  for (const c of compare(report)) {
    const many = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
    out.push(kleur.bold(`model vs ${c.backend}: ${many(c.disagreements.length, "disagreement")} (${many(c.compared, "run")} ran on both)`));
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
    ...(s.crashed ? [kleur.red().bold(`${s.crashed} crashed`)] : []),
    (s.errors ? kleur.red : kleur.gray)(plural(s.errors, "error")),
  ];
  if (s.unsupported) parts.push(kleur.gray(`${s.unsupported} unsupported`));
  if (s.unseen) parts.push(kleur.gray(`${plural(s.unseen, "expectation")} unseen`));
  out.push(`${parts.join(", ")} (${plural(s.files, "file")})`);
  return `${out.join("\n")}\n`;
}
