// The explorer: it finds where two sides part ways, shrinks each difference, and writes a spec
// that passes on the reference side and diverges on the other.
import { describe, expect, it } from "vitest";
import { explore, type Side } from "../src/explore/explore.js";
import { ModelBackend } from "../src/backends/model.js";
import type { ProfileName } from "../src/engine/types.js";
import { compile } from "./helpers.js";

const model = new ModelBackend();
const profile = (name: ProfileName): Side => ({ name, run: (spec) => model.runSync(spec, name) });
const everything = { machine: "any", vfio: true, unplug: true, devices: true, resetMigrate: true } as const;

describe("tcespec explore", () => {
  it("finds minimal specs that tell two profiles apart, the same ones for the same seed", async () => {
    const options = { seed: 7, count: 400, sides: [profile("qemu-2.7"), profile("qemu-7.2")] as [Side, Side], abilities: everything, command: "test" };
    const first = await explore(options);
    expect(first.findings.length).toBeGreaterThan(0);
    for (const finding of first.findings) {
      expect(finding.statements).toBeLessThanOrEqual(10);
      const compiled = compile(finding.text);
      expect(compiled.diagnostics).toEqual([]);
      const spec = compiled.program!.specs[0]!;
      expect(model.runSync(spec, "qemu-2.7").status).toBe("passed");
      expect(model.runSync(spec, "qemu-7.2").status).toBe("diverged");
    }
    const again = await explore({ ...options, jobs: 4 });
    expect(again.findings.map((f) => f.text)).toEqual(first.findings.map((f) => f.text));
  });

  it("finds a deliberately broken rule and shrinks it to the statement that shows it", async () => {
    // The other side is the model with one rule broken: H_STUFF_TCE with a count of 0 succeeds.
    const broken: Side = {
      name: "broken",
      run: (spec) => {
        const run = model.runSync(spec, "qemu-7.2");
        return {
          ...run,
          expectations: run.expectations.map((e) =>
            /^expect stuff_tce \S+ \S+ \S+ 0 /.test(e.source) && e.actual === "H_PARAMETER" ? { ...e, actual: "H_SUCCESS" } : e,
          ),
        };
      },
    };
    const { findings } = await explore({ seed: 3, count: 800, sides: [profile("qemu-7.2"), broken], abilities: { ...everything, machine: "tcg" }, command: "test" });
    expect(findings).toHaveLength(1);
    expect(findings[0]!.signature).toBe("expect stuff_tce: H_PARAMETER vs H_SUCCESS");
    const statements = findings[0]!.text.split("\n").filter((l) => /^ {2}(machine|phb|expect|put|plug|reset)/.test(l));
    expect(statements).toEqual(["  machine tcg", "  phb phb0 index 0", expect.stringMatching(/^ {2}expect stuff_tce phb0 \S+ \S+ 0 == H_PARAMETER {2}# broken: H_SUCCESS$/)]);
  });

  it("keeps a scenario that crashes real software as a shrunk reproducer ending in 'expect host ok'", async () => {
    // The other side is real software whose kernel dies at any H_STUFF_TCE with a count over 1.
    const crashing: Side = {
      name: "crashing",
      run: (spec) => {
        const run = model.runSync(spec, "qemu-7.2");
        const at = spec.steps.find((s) => /stuff_tce \S+ \S+ \S+ ([2-9]|\d\d)/.test(s.source));
        if (!at) return run;
        return {
          ...run,
          backend: "crashing",
          status: "crashed" as const,
          crash: { software: "host kernel" as const, report: "BUG: Unable to handle kernel data access at 0xc0ffee", function: "kvmppc_tce_put+0x5c/0xa0", line: at.line, column: at.column, source: at.source },
          expectations: run.expectations.filter((e) => e.line < at.line),
        };
      },
    };
    const { findings } = await explore({ seed: 3, count: 300, sides: [profile("qemu-7.2"), crashing], abilities: { ...everything, machine: "tcg" }, command: "test" });
    expect(findings.map((f) => [f.kind, f.signature])).toEqual([["crash", "crashing qemu-7.2: host kernel crashed in kvmppc_tce_put: BUG: Unable to handle kernel data access at N"]]);
    const text = findings[0]!.text;
    expect(text).toMatch(/ {2}expect host ok {2}# crashing: host kernel crashed at (expect )?stuff_tce /);
    expect(compile(text).diagnostics).toEqual([]);
    expect(findings[0]!.statements).toBeLessThanOrEqual(5);
  });
});

describe("every spec the explorer writes runs", () => {
  it("for every pair of profiles and five seeds: it compiles, passes on the first side and not on the second", async () => {
    const { PROFILE_NAMES } = await import("../src/profile-names.js");
    const failures: string[] = [];
    let written = 0;
    for (const [i, a] of PROFILE_NAMES.entries())
      for (const b of PROFILE_NAMES.slice(i + 1))
        for (const seed of [1, 2, 3, 4, 5]) {
          const { findings } = await explore({ seed, count: 120, sides: [profile(a), profile(b)], abilities: everything, command: "test" });
          written += findings.length;
          for (const f of findings) if (f.reproduces !== true) failures.push(`${a} → ${b} seed ${seed}: ${f.reproduces}\n${f.text}`);
        }
    expect(failures).toEqual([]);
    expect(written).toBeGreaterThan(50);
  }, 120_000);
});

describe("docs/profile-differences.md", () => {
  it("is what the explorer finds now (npm run differences)", async () => {
    const { readFileSync } = await import("node:fs");
    const { profileDifferences } = await import("../src/explore/differences.js");
    expect(readFileSync(new URL("../docs/profile-differences.md", import.meta.url), "utf8"), "run npm run differences").toBe(await profileDifferences());
  });
});
