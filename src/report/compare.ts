// `tcespec compare` as text and as one self-contained HTML page: each spec's verdict on both
// targets side by side, and under each spec that differs the expectations whose answers differ.
import kleur from "kleur";
import type { SpecComparison } from "../run/compare.js";
import { escapeXml } from "./xml.js";
import { VERSION } from "../version.js";

export interface ComparedSide {
  /** "A", "B" */
  label: string;
  /** What ran: a build with its base and patches, or Debian's binary, as the reports name it. */
  what: string;
}

export interface Comparison {
  backend: string;
  a: ComparedSide;
  b: ComparedSide;
  specs: SpecComparison[];
}

const statusOf = (c: SpecComparison, side: "a" | "b") => c[side]?.status ?? "not run";

export function comparisonCounts(comparison: Comparison): { specs: number; differ: number; expectations: number } {
  const differ = comparison.specs.filter((c) => c.differs);
  return { specs: comparison.specs.length, differ: differ.length, expectations: differ.reduce((n, c) => n + c.differences.length, 0) };
}

function colour(status: string): string {
  if (status === "passed") return kleur.green(status);
  if (status === "diverged" || status === "error") return kleur.red(status);
  return kleur.yellow(status);
}

export function formatComparePretty(comparison: Comparison): string {
  const out: string[] = [
    `compare on ${comparison.backend}:`,
    `  ${comparison.a.label} = ${comparison.a.what}`,
    `  ${comparison.b.label} = ${comparison.b.what}`,
    "",
  ];
  let file = "";
  for (const c of comparison.specs) {
    if (!c.differs) continue;
    if (c.file !== file) {
      file = c.file;
      out.push(kleur.bold(file));
    }
    out.push(`  ${c.spec}: ${comparison.a.label} ${colour(statusOf(c, "a"))}, ${comparison.b.label} ${colour(statusOf(c, "b"))}`);
    for (const d of c.differences) {
      out.push(`    ${d.line}:${d.column} ${d.source}`);
      out.push(`      ${comparison.a.label}: ${d.a.actual} (${d.a.outcome})`);
      out.push(`      ${comparison.b.label}: ${d.b.actual} (${d.b.outcome})`);
    }
    for (const side of ["a", "b"] as const) {
      const reason = c[side]?.reason;
      if (reason && c.a?.reason !== c.b?.reason) out.push(`    ${comparison[side].label} ${statusOf(c, side)}: ${reason}`);
    }
  }
  const counts = comparisonCounts(comparison);
  out.push(
    "",
    counts.differ === 0
      ? kleur.green(`${counts.specs} specs: the same answers on both`)
      : `${counts.specs} specs: ${kleur.red(`${counts.differ} differ`)} (${counts.expectations} expectation${counts.expectations === 1 ? "" : "s"} answered differently)`,
  );
  return `${out.join("\n")}\n`;
}

export function formatCompareHtml(comparison: Comparison): string {
  const e = escapeXml;
  const counts = comparisonCounts(comparison);
  const rows = comparison.specs
    .map((c) => {
      const details = c.differences
        .map(
          (d) =>
            `<tr class="expectation"><td class="mono">${d.line}:${d.column} ${e(d.source)}</td><td class="mono ${e(d.a.outcome)}">${e(d.a.actual)}</td><td class="mono ${e(d.b.outcome)}">${e(d.b.actual)}</td></tr>`,
        )
        .join("");
      const reasons = (["a", "b"] as const)
        .map((side) => (c[side]?.reason && c.a?.reason !== c.b?.reason ? `<div class="reason">${e(comparison[side].label)}: ${e(c[side]!.reason!)}</div>` : ""))
        .join("");
      return `<tr class="spec${c.differs ? " differs" : ""}"><td>${e(c.file)}<br><b>${e(c.spec)}</b>${reasons}</td><td class="${statusOf(c, "a")}">${statusOf(c, "a")}</td><td class="${statusOf(c, "b")}">${statusOf(c, "b")}</td></tr>${details}`;
    })
    .join("\n");
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>tcespec compare</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; }
table { border-collapse: collapse; width: 100%; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
.mono, .expectation td { font-family: ui-monospace, monospace; font-size: 13px; }
tr.differs { background: #fff4e5; }
.passed, .matched { color: #17702b; } .diverged, .error, .xpass { color: #b3261e; } .unsupported, .skipped { color: #8a6d00; }
.reason { font-size: 12px; color: #555; }
</style>
</head>
<body>
<h1>tcespec compare on ${e(comparison.backend)}</h1>
<p>tcespec ${e(VERSION)}</p>
<ul><li><b>${e(comparison.a.label)}</b> = ${e(comparison.a.what)}</li><li><b>${e(comparison.b.label)}</b> = ${e(comparison.b.what)}</li></ul>
<p id="summary" data-specs="${counts.specs}" data-differ="${counts.differ}">${counts.specs} specs; ${counts.differ} differ (${counts.expectations} expectations answered differently)</p>
<table>
<thead><tr><th>spec</th><th>${e(comparison.a.label)}</th><th>${e(comparison.b.label)}</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
</body>
</html>
`;
}
