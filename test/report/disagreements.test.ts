// A disagreement between the model and a real backend fails the run, even where both runs pass:
// the exit status, JUnit, TAP, JSON, pretty and HTML all say so. The "real" backend here is the
// model with one answer changed, so the test needs no QEMU and always runs.
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { XMLParser } from "fast-xml-parser";
import { ModelBackend } from "../../src/backends/model.js";
import type { Backend } from "../../src/backends/backend.js";
import type { CompiledSpec } from "../../src/compile/program.js";
import type { ProfileName } from "../../src/engine/types.js";
import { run } from "../../src/run/runner.js";
import { exitCode, summarize } from "../../src/report/summary.js";
import { formatJunit } from "../../src/report/junit.js";
import { formatTap } from "../../src/report/tap.js";
import { formatJson } from "../../src/report/json.js";
import { formatPretty } from "../../src/report/pretty.js";
import { formatHtml } from "../../src/report/html.js";

/** Real software that answers `get_tce` with another value than the model: an `!=` expectation still passes. */
class SkewedBackend implements Backend {
  readonly name = "fake";
  readonly profiles: readonly ProfileName[] = ["qemu-7.2"];
  readonly real = true;
  constructor(private readonly skew: boolean) {}
  identity() {
    return { qemu: "QEMU 7.2.22 (fake)", kernel: "6.12.95-fake", where: "/nowhere/qemu" };
  }
  async run(spec: CompiledSpec, profile: ProfileName) {
    const result = new ModelBackend().runSync(spec, profile);
    if (!this.skew) return { ...result, backend: this.name };
    return {
      ...result,
      backend: this.name,
      expectations: result.expectations.map((e) => (e.source.includes("get_tce") ? { ...e, actual: "0x7" } : e)),
    };
  }
}

const spec = join(mkdtempSync(join(tmpdir(), "tcespec-disagree-")), "d.tce");
writeFileSync(spec, 'spec "passes on both" {\n  put_tce phb0 0 0x3\n  expect get_tce phb0 0 != 0x5\n}\n');
const reportOf = (skew: boolean) => run([spec], { profiles: ["qemu-7.2"], backends: [new ModelBackend(), new SkewedBackend(skew)], jobs: 1 });

describe("a disagreement with the model", () => {
  it("exits 1 though every run passed; without it the same runs exit 0", async () => {
    const skewed = await reportOf(true);
    expect(skewed.runs.map((r) => r.status)).toEqual(["passed", "passed"]);
    expect(summarize(skewed)).toMatchObject({ passed: 2, diverged: 0, disagreements: 1 });
    expect(exitCode(skewed)).toBe(1);
    const agreed = await reportOf(false);
    expect(summarize(agreed)).toMatchObject({ disagreements: 0 });
    expect(exitCode(agreed)).toBe(0);
  });

  it("is a failing JUnit case and a TAP not ok, naming the line and both values", async () => {
    const skewed = await reportOf(true);
    const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => ["testsuite", "testcase"].includes(n) }).parse(
      formatJunit(skewed),
    );
    const cases = xml.testsuites.testsuite[0].testcase;
    const real = cases.find((c: { name: string }) => c.name.includes("on fake"));
    expect(real.failure.type).toBe("disagreement");
    expect(real.failure.message).toMatch(/d\.tce:3:3: expect get_tce phb0 0 != 0x5: model 0x3, fake 0x7/);
    expect(cases.find((c: { name: string }) => !c.name.includes("on fake")).failure).toBeUndefined();
    expect(Number(xml.testsuites.failures)).toBe(1);
    const tap = formatTap(skewed);
    expect(tap).toMatch(/^not ok 2 - .*passes on both \[qemu-7\.2 on fake\]$/m);
    expect(tap).toContain('      model: "0x3"\n      fake: "0x7"');
    const agreed = await reportOf(false);
    expect(formatTap(agreed)).not.toMatch(/not ok/);
    expect(formatJunit(agreed)).not.toMatch(/<failure/);
  });

  it("is listed in JSON, pretty and HTML", async () => {
    const skewed = await reportOf(true);
    const json = JSON.parse(formatJson(skewed));
    expect(json.summary.disagreements).toBe(1);
    expect(json.disagreements[0]).toMatchObject({ line: 3, model: "0x3", actual: "0x7", backend: "fake" });
    expect(formatPretty(skewed)).toMatch(/model vs fake: 1 disagreement/);
    expect(formatHtml(skewed)).toContain('<section id="disagreements"');
  });
});

describe("the software that judged", () => {
  it("is named by every reporter, as the backend reported it", async () => {
    const report = await reportOf(false);
    const line = "fake: QEMU 7.2.22 (fake) on Linux 6.12.95-fake (/nowhere/qemu)";
    expect(formatPretty(report).split("\n")[0]).toBe(`judged by ${line}`);
    expect(formatTap(report).split("\n")[2]).toBe(`# judged by ${line}`);
    expect(formatJunit(report)).toContain('<property name="fake.qemu" value="QEMU 7.2.22 (fake)"/>');
    expect(formatJunit(report)).toContain('<property name="fake.kernel" value="6.12.95-fake"/>');
    expect(JSON.parse(formatJson(report)).backends).toEqual([
      { name: "model", real: false },
      { name: "fake", real: true, qemu: "QEMU 7.2.22 (fake)", kernel: "6.12.95-fake", where: "/nowhere/qemu" },
    ]);
    expect(formatHtml(report)).toContain('<ul id="judged"');
  });

  it("names a QEMU build, its base and its patches, in every reporter", async () => {
    const report = await reportOf(false);
    const build = "tcespec build 'prefix': QEMU 7.2.22 from Debian 1:7.2+dfsg-7+deb12u18 + revert-realloc.patch (sha256 c350f94e96e4)";
    const withBuild = { ...report, backends: report.backends.map((b) => (b.real ? { ...b, identity: { ...b.identity!, build } } : b)) };
    const line = `fake: QEMU 7.2.22 (fake) on Linux 6.12.95-fake, ${build} (/nowhere/qemu)`;
    expect(formatPretty(withBuild).split("\n")[0]).toBe(`judged by ${line}`);
    expect(formatTap(withBuild).split("\n")[2]).toBe(`# judged by ${line}`);
    expect(formatJunit(withBuild)).toContain(`<property name="fake.build" value="tcespec build 'prefix'`);
    expect(JSON.parse(formatJson(withBuild)).backends[1]).toMatchObject({ build });
    // The page draws the line from the JSON it embeds.
    expect(formatHtml(withBuild)).toContain('(b.build ? ", " + b.build : "")');
  });
});

describe("an answer the real backend could not see", () => {
  it("is no disagreement with the model's value, though the run diverges", async () => {
    const { unseen } = await import("../../src/verdict/outcome.js");
    const { compare } = await import("../../src/report/differential.js");
    const report = await reportOf(false);
    const real = report.runs.find((r) => r.backend === "fake")!;
    const blind = { ...real, status: "diverged" as const, expectations: real.expectations.map((e) => ({ ...e, outcome: "diverged" as const, actual: unseen("the device's buffer did not come back") })) };
    const withBlind = { ...report, runs: report.runs.map((r) => (r === real ? blind : r)) };
    expect(compare(withBlind)[0]!.disagreements).toEqual([]);
    const wrong = { ...blind, expectations: blind.expectations.map((e) => ({ ...e, actual: "0x9" })) };
    expect(compare({ ...report, runs: report.runs.map((r) => (r === real ? wrong : r)) })[0]!.disagreements).toHaveLength(1);
  });

  it("is no verdict, `!=` and xfail ones included, and every reporter says so apart", async () => {
    const { unseen } = await import("../../src/verdict/outcome.js");
    const { evaluate } = await import("../../src/verdict/evaluate.js");
    const { compile } = await import("../helpers.js");
    const spec = compile('spec "s" { machine kvm\n phb phb0 index 0\n plug vfio d on phb0\n expect hw(phb0, 0x1000) != 0x1003\n expect hw(phb0) in_sync xfail "stale"\n expect hw(phb0) in_sync }').program!.specs[0]!;
    const blind = { apply: () => ({ kind: "done" as const }), observe: () => unseen("the device's buffer did not come back") };
    const run = evaluate(spec, "qemu-7.2", blind, "fake");
    expect(run.expectations.map((e) => e.outcome)).toEqual(["unseen", "unseen", "unseen"]);
    expect(run.expectations[0]!.actual).toBe("unseen: the device's buffer did not come back");
    expect(run.status).toBe("passed");
    const report = await reportOf(false);
    const real = report.runs.find((r) => r.backend === "fake")!;
    const withBlind = { ...report, runs: report.runs.map((r) => (r === real ? { ...real, status: "passed" as const, expectations: run.expectations } : r)) };
    expect(summarize(withBlind)).toMatchObject({ unseen: 3 });
    expect(exitCode(withBlind)).toBe(0);
    const pretty = formatPretty(withBlind);
    expect(pretty).toContain("unseen (ran, but the answer could not be seen there; no verdict):");
    expect(pretty).toMatch(/:4:2 expect hw\(phb0, 0x1000\) != 0x1003 \(qemu-7.2 on fake\): unseen: the device's buffer did not come back/);
    expect(pretty).toMatch(/3 expectations unseen/);
    expect(formatJunit(withBlind)).toMatch(/<system-out>[^<]*:4:2: expect hw\(phb0, 0x1000\) != 0x1003: unseen: the device's buffer did not come back/);
    expect(formatTap(withBlind)).toMatch(/^# \S+:4:2 unseen: unseen: the device's buffer/m);
    expect(JSON.parse(formatJson(withBlind)).summary.unseen).toBe(3);
  });
});
