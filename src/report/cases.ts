// Test cases for JUnit and TAP: one per spec × profile, including the profiles a spec skips.
import type { Report } from "../run/runner.js";
import type { RunResult } from "../run/outcome.js";
import type { ProfileName } from "../engine/types.js";
import { PROFILE_NAMES } from "../engine/profiles.js";

export interface TestCase {
  file: string;
  suite: string;
  spec: string;
  profile: ProfileName;
  backend: string;
  run?: RunResult;
  /** Why there is no run: the spec does not run under this profile. */
  skipped?: string;
}

export function testCases(report: Report): TestCase[] {
  const profiles = PROFILE_NAMES.filter((p) => report.runs.some((r) => r.profile === p));
  const cases: TestCase[] = [];
  const seen = new Set<string>();
  for (const run of report.runs) {
    const key = `${run.file}\u0000${run.spec}\u0000${run.backend}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const runs = report.runs.filter((r) => r.file === run.file && r.spec === run.spec && r.backend === run.backend);
    for (const profile of profiles) {
      const found = runs.find((r) => r.profile === profile);
      cases.push({
        file: run.file,
        suite: run.suite,
        spec: run.spec,
        profile,
        backend: run.backend,
        run: found,
        skipped: found ? undefined : "not run under this profile",
      });
    }
  }
  return cases;
}

export function caseName(c: TestCase): string {
  return `${c.spec} [${c.profile}${c.backend !== "model" ? ` on ${c.backend}` : ""}]`;
}
