// Test cases for JUnit and TAP: one per spec × profile, including the profiles a spec skips.
import type { Report } from "../run/runner.js";
import type { RunResult } from "../run/outcome.js";
import type { ProfileName } from "../engine/types.js";
import { PROFILE_NAMES } from "../engine/profiles.js";
import { bySpec } from "./summary.js";

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
  // Grouped once: a case per spec × backend × profile, without scanning every run for each spec.
  for (const specs of bySpec(report.runs).values()) {
    for (const runs of specs.values()) {
      const backends = new Map<string, Map<ProfileName, RunResult>>();
      for (const run of runs) {
        let byProfile = backends.get(run.backend);
        if (!byProfile) backends.set(run.backend, (byProfile = new Map()));
        byProfile.set(run.profile, run);
      }
      const first = runs[0]!;
      for (const [backend, byProfile] of backends) {
        for (const profile of profiles) {
          const run = byProfile.get(profile);
          cases.push({
            file: first.file,
            suite: first.suite,
            spec: first.spec,
            profile,
            backend,
            run,
            skipped: run ? undefined : "not run under this profile",
          });
        }
      }
    }
  }
  return cases;
}

export function caseName(c: TestCase): string {
  return `${c.spec} [${c.profile}${c.backend !== "model" ? ` on ${c.backend}` : ""}]`;
}
