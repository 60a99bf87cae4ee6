// compare and mutate on stand-in targets: the model, and the model with one answer changed (a
// "mutant" QEMU). The real ones run in test/kvm/builds.test.ts.
import { describe, expect, it } from "vitest";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ModelBackend } from "../../src/backends/model.js";
import type { Backend, BackendOptions } from "../../src/backends/backend.js";
import type { CompiledSpec } from "../../src/compile/program.js";
import type { ProfileName } from "../../src/engine/types.js";
import { run } from "../../src/run/runner.js";
import { compareReports, kills } from "../../src/run/compare.js";
import { findMutants, formatMutate, mutate, mutateExitCode, type Mutant } from "../../src/run/mutate.js";
import { formatCompareHtml, formatComparePretty } from "../../src/report/compare.js";

/** The model as real software, with `get_tce` answered 0x7 when `skew` says so, or every run crashing. */
class StandIn implements Backend {
  readonly name = "kvm";
  readonly profiles: readonly ProfileName[] = ["qemu-7.2"];
  readonly real = true;
  constructor(private readonly how: "stock" | "skew" | "crash") {}
  async run(spec: CompiledSpec, profile: ProfileName) {
    const result = { ...new ModelBackend().runSync(spec, profile), backend: this.name };
    if (this.how === "crash")
      return { ...result, status: "crashed" as const, reason: "QEMU crashed at line 3", crash: { software: "QEMU" as const, report: "qemu-system-ppc64: assertion failed (SIGABRT)", line: 3, column: 3 }, expectations: [] };
    if (this.how === "stock") return result;
    const expectations = result.expectations.map((e) => (e.source.startsWith("expect get_tce") ? { ...e, actual: "0x7", outcome: "diverged" as const } : e));
    return { ...result, expectations, status: expectations.some((e) => e.outcome === "diverged") ? ("diverged" as const) : result.status };
  }
}

const SPECS = ["specs/hotplug/unplug-replug.tce", "specs/hotplug/second-phb.tce"];

describe("compare", () => {
  it("pairs each spec's runs and lists the expectations answered differently", async () => {
    const a = await run(SPECS, { backends: [new StandIn("skew")] });
    const b = await run(SPECS, { backends: [new StandIn("stock")] });
    const specs = compareReports(a, b);
    expect(specs.length).toBe(a.runs.filter((r) => r.status !== "unsupported").length);
    const differing = specs.filter((s) => s.differs);
    // unplug-replug's first spec reads get_tce; second-phb's specs do not.
    expect(differing.map((s) => s.spec)).toContain("unplugging the last device");
    expect(differing.every((s) => s.file.endsWith("unplug-replug.tce"))).toBe(true);
    const difference = differing.find((s) => s.spec === "unplugging the last device")!.differences[0]!;
    expect(difference).toMatchObject({ source: "expect get_tce phb0 0x1000 == 0x12340003", a: { actual: "0x7", outcome: "diverged" }, b: { actual: "0x12340003", outcome: "matched" } });
    // What kills a mutant is what matched on stock and diverged on it.
    expect(kills(specs).map((k) => k.difference!.source)).toContain("expect get_tce phb0 0x1000 == 0x12340003");
    expect(kills(compareReports(b, b))).toEqual([]);

    const comparison = { backend: "kvm", a: { label: "A", what: "build 'mutant'" }, b: { label: "B", what: "Debian's binary" }, specs };
    const text = formatComparePretty(comparison);
    expect(text).toMatch(/A = build 'mutant'/);
    expect(text).toMatch(/unplugging the last device: A diverged, B passed/);
    expect(text).toMatch(/A: 0x7 \(diverged\)\n\s+B: 0x12340003 \(matched\)/);
    expect(text).toMatch(new RegExp(`${specs.length} specs: \\d+ differ`));
    const html = formatCompareHtml({ ...comparison, a: { label: "A", what: "<script>x</script>" } });
    expect(html).not.toContain("<script>x");
    expect(html).toContain("&lt;script&gt;x");
    expect(html).toMatch(new RegExp(`data-differ="${differing.length}"`));
  });

  it("counts a crash as a kill, never an error (a timeout, an unreachable target)", async () => {
    const stock = await run(SPECS, { backends: [new StandIn("stock")] });
    const crashed = await run(SPECS, { backends: [new StandIn("crash")] });
    expect(kills(compareReports(crashed, stock)).length).toBe(stock.runs.filter((r) => r.status === "passed").length);
    const errored = { ...crashed, runs: crashed.runs.map((r) => ({ ...r, status: "error" as const, crash: undefined, reason: "timed out after 10000 ms (--timeout)" })) };
    expect(kills(compareReports(errored, stock))).toEqual([]);
  });
});

describe("mutate", () => {
  const dir = mkdtempSync(join(tmpdir(), "tcespec-mutants-"));
  mkdirSync(join(dir, "m"));
  writeFileSync(join(dir, "m", "a-skews.patch"), "Mutant: get_tce answers 0x7\n\n--- a/x\n+++ b/x\n");
  writeFileSync(join(dir, "m", "b-harmless.patch"), "Mutant: changes nothing the specs see\n\n--- a/x\n+++ b/x\n");
  writeFileSync(join(dir, "m", "c-crashes.patch"), "Mutant: aborts\n\n--- a/x\n+++ b/x\n");

  const options = (built: string[]) => ({
    paths: SPECS,
    mutants: findMutants(join(dir, "m")) as Mutant[],
    debian: "7.2" as const,
    backend: "kvm" as const,
    backendOptions: {},
    run: {},
    say: () => {},
    createBackend: async (_name: string, o: BackendOptions) =>
      new StandIn(o.qemuBuild === "mutant-a-skews" ? "skew" : o.qemuBuild === "mutant-c-crashes" ? "crash" : "stock"),
    build: async (name: string) => {
      built.push(name);
    },
  });

  it("builds the baseline and each mutant, and names the specs that kill each", async () => {
    const built: string[] = [];
    const result = await mutate(options(built));
    expect(built).toEqual(["stock-7.2", "mutant-a-skews", "mutant-b-harmless", "mutant-c-crashes"]);
    const [skews, harmless, crashes] = result.mutants;
    expect(skews!.killedBy.map((k) => k.spec)).toContain("unplugging the last device");
    expect(harmless!.killedBy).toEqual([]);
    expect(crashes!.killedBy.length).toBeGreaterThan(0);
    expect(crashes!.killedBy[0]!.crash).toMatch(/SIGABRT/);
    const text = formatMutate(result);
    expect(text).toMatch(/mutant a-skews \(.*a-skews\.patch\): killed by \d+ specs?/);
    expect(text).toMatch(/unplug-replug\.tce:\d+ "unplugging the last device": expect get_tce .* stock: 0x12340003 {2}mutant: 0x7/);
    expect(text).toMatch(/mutant b-harmless .*: SURVIVED: no spec kills it/);
    expect(text).toMatch(/3 mutants: 2 killed, 1 survived/);
    expect(mutateExitCode(result)).toBe(1);
  });

  it("a mutant whose build fails is not judged, and the run says so", async () => {
    const o = options([]);
    const result = await mutate({
      ...o,
      build: async (name: string) => {
        if (name === "mutant-b-harmless") throw new Error("patch does not apply");
      },
    });
    expect(result.mutants[1]).toMatchObject({ error: expect.stringMatching(/its build failed: patch does not apply/) });
    expect(mutateExitCode(result)).toBe(2);
  });

  it("finds no mutants where there are none", () => {
    expect(findMutants(join(dir, "nowhere"))).toEqual({ problem: expect.stringMatching(/no such directory/) });
    expect(findMutants(dir)).toEqual({ problem: expect.stringMatching(/holds no \.patch file/) });
  });
});
