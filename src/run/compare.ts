// Two real targets on the same specs: which runs and which expectations answered differently.
// "What did my patch change" (tcespec compare) and "which specs kill this mutant" (tcespec mutate)
// are both this comparison.
import { describeCrash, type ExpectationOutcome, type RunResult, type RunStatus } from "../verdict/outcome.js";
import type { Report } from "./runner.js";

/** One expectation whose actual value, or verdict, is not the same on both sides. */
export interface ExpectationDifference {
  line: number;
  column: number;
  source: string;
  expected: string;
  a: { outcome: ExpectationOutcome["outcome"]; actual: string };
  b: { outcome: ExpectationOutcome["outcome"]; actual: string };
}

/** A spec as each side ran it (a side that did not run it has nothing), and where they differ. */
export interface SpecComparison {
  file: string;
  suite: string;
  spec: string;
  a?: RunResult;
  b?: RunResult;
  /** The status differs, or an expectation's answer does. */
  differs: boolean;
  differences: ExpectationDifference[];
}

const keyOf = (run: RunResult) => `${run.file}\0${run.suite}\0${run.spec}`;

/** Each spec either side ran (unsupported on both counts as not ran), in the order side a ran them. */
export function compareReports(a: Report, b: Report): SpecComparison[] {
  const byKey = new Map<string, { a?: RunResult; b?: RunResult }>();
  for (const [side, report] of [["a", a], ["b", b]] as const)
    for (const run of report.runs) {
      const entry = byKey.get(keyOf(run)) ?? {};
      entry[side] ??= run;
      byKey.set(keyOf(run), entry);
    }
  const comparisons: SpecComparison[] = [];
  for (const { a: ra, b: rb } of byKey.values()) {
    const any = (ra ?? rb)!;
    if ((ra?.status ?? "unsupported") === "unsupported" && (rb?.status ?? "unsupported") === "unsupported") continue;
    const differences: ExpectationDifference[] = [];
    const theirs = new Map((rb?.expectations ?? []).map((e) => [`${e.line}:${e.column}`, e]));
    for (const mine of ra?.expectations ?? []) {
      const other = theirs.get(`${mine.line}:${mine.column}`);
      if (!other) continue;
      if (other.actual === mine.actual && other.outcome === mine.outcome) continue;
      differences.push({
        line: mine.line,
        column: mine.column,
        source: mine.source,
        expected: mine.expected,
        a: { outcome: mine.outcome, actual: mine.actual },
        b: { outcome: other.outcome, actual: other.actual },
      });
    }
    const status = (run?: RunResult): RunStatus | "not run" => run?.status ?? "not run";
    comparisons.push({
      file: any.file,
      suite: any.suite,
      spec: any.spec,
      ...(ra ? { a: ra } : {}),
      ...(rb ? { b: rb } : {}),
      differs: status(ra) !== status(rb) || differences.length > 0 || (ra?.reason ?? "") !== (rb?.reason ?? ""),
      differences,
    });
  }
  return comparisons;
}

/**
 * What kills a mutant: each expectation that matched on stock QEMU (b) and diverged on the mutant
 * (a), or a spec that passed on stock and under which real software crashed on the mutant (a crash
 * is a verdict; a timeout or an unreachable target is not).
 */
export function kills(comparisons: readonly SpecComparison[]): { comparison: SpecComparison; difference?: ExpectationDifference; crash?: string }[] {
  const found: { comparison: SpecComparison; difference?: ExpectationDifference; crash?: string }[] = [];
  for (const c of comparisons) {
    if (c.b?.status !== "passed") continue;
    for (const d of c.differences)
      if ((d.b.outcome === "matched" || d.b.outcome === "xfail") && (d.a.outcome === "diverged" || d.a.outcome === "xpass")) found.push({ comparison: c, difference: d });
    if (c.a?.status === "crashed" && c.a.crash) found.push({ comparison: c, crash: describeCrash(c.a.crash) });
  }
  return found;
}

