// Each reporter's output, parsed back: JSON against its schema, JUnit as XML, TAP's plan.
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { XMLParser } from "fast-xml-parser";
import { run, type Report } from "../../src/run/runner.js";
import { formatJson } from "../../src/report/json.js";
import { formatJunit } from "../../src/report/junit.js";
import { formatTap } from "../../src/report/tap.js";
import { formatPretty } from "../../src/report/pretty.js";
import { resultsSchema } from "../../src/schema/results.js";
import { migrationSchema } from "../../src/schema/migration.js";
import { validator } from "../../src/schema/validate.js";
import { schemaText, SCHEMA_FILES } from "../../src/schema/write.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

let report: Report;
let dir: string;
const validResults = validator(resultsSchema);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "tcespec-report-"));
  writeFileSync(
    join(dir, "mixed.tce"),
    [
      'suite "mixed <&> suite"',
      'spec "passes" { expect table(phb0) userspace }',
      'spec "diverges" { put_tce phb0 0 0x3\n expect get_tce phb0 0 == 0x5\n expect get_tce phb0 0 == 0x3 }',
      'spec "xfails" { expect table(phb0) kvm xfail "tcg" }',
      'spec "xpasses" { expect table(phb0) userspace xfail "fixed already" }',
      'spec "only 7.2" profiles qemu-7.2 { expect table(phb0) userspace when profile qemu-7.2 }',
    ].join("\n"),
  );
  writeFileSync(join(dir, "broken.tce"), "put_tce phb0 == 1");
  report = await run([dir], { jobs: 1 });
});

describe("json", () => {
  it("validates against schema/results.schema.json", () => {
    const document = JSON.parse(formatJson(report));
    expect(validResults.explain(document)).toBeUndefined();
    expect(document.summary).toMatchObject({ files: 2, specs: 5, runs: 21, passed: 11, diverged: 10, errors: 1 });
    expect(document.errors[0]).toMatchObject({ line: 1, column: 14, message: "expected an IOBA, found '=='" });
    const diverged = document.runs.find((r: { spec: string; profile: string }) => r.spec === "diverges" && r.profile === "pre-fix");
    expect(diverged.expectations[0]).toMatchObject({ line: 4, column: 2, outcome: "diverged", expected: "0x5", actual: "0x3" });
  });
  it("the same input gives byte-identical JSON", async () => {
    const again = await run([dir], { jobs: 3 });
    expect(formatJson(again)).toBe(formatJson(report));
  });
  it("an invalid document fails the schema", () => {
    expect(validResults({ summary: {}, runs: [], errors: [] })).toBe(false);
  });
});

describe("junit", () => {
  it("one testsuite per file, one testcase per run, failures and errors; the counts are the summary's", () => {
    const xml = new XMLParser({
      ignoreAttributes: false,
      attributeNamePrefix: "",
      isArray: (name) => ["testsuite", "testcase"].includes(name),
    }).parse(formatJunit(report));
    const suites = xml.testsuites.testsuite;
    expect(suites).toHaveLength(2);
    const mixed = suites.find((s: { name: string }) => s.name === "mixed <&> suite");
    expect(mixed.testcase).toHaveLength(21);
    expect(Number(mixed.tests)).toBe(21);
    // Runs plus the one spec error, as the summary says "21 runs … 1 error".
    expect(Number(xml.testsuites.tests)).toBe(22);
    expect(Number(xml.testsuites.errors)).toBe(1);
    const failing = mixed.testcase.filter((c: { failure?: unknown }) => c.failure);
    expect(failing).toHaveLength(10);
    expect(failing[0].failure.message).toMatch(/mixed\.tce:4:2: expected 0x5, actual 0x3/);
    expect(mixed.testcase.filter((c: { skipped?: unknown }) => c.skipped !== undefined)).toHaveLength(0);
    expect(mixed.testcase.filter((c: { name: string }) => c.name.startsWith("only 7.2")).map((c: { name: string }) => c.name)).toEqual([
      "only 7.2 [qemu-7.2]",
    ]);
    const broken = suites.find((s: { file: string }) => s.file.endsWith("broken.tce"));
    expect(broken.testcase[0].error.message).toMatch(/broken\.tce:1:14/);
  });
});

describe("a missing path", () => {
  it("is an error case in JUnit and TAP, as the summary counts it", async () => {
    const missing = await run([join(dir, "mixed.tce"), join(dir, "nowhere")], { jobs: 1 });
    expect(formatJunit(missing)).toMatch(/<testsuites name="tcespec" tests="22" failures="10" errors="1"/);
    expect(formatJunit(missing)).toMatch(/nowhere: no such file or directory/);
    expect(formatTap(missing).split("\n")[1]).toBe("1..22");
    expect(formatPretty(missing)).toMatch(/21 runs, .*1 error/);
  });
});

describe("tap", () => {
  it("TAP 14 with a plan that matches the test points", () => {
    const lines = formatTap(report).trimEnd().split("\n");
    expect(lines[0]).toBe("TAP version 14");
    const plan = /^1\.\.(\d+)$/.exec(lines[1]!);
    const points = lines.filter((l) => /^(not )?ok \d+ /.test(l));
    expect(Number(plan![1])).toBe(points.length);
    expect(points.map((l) => Number(/ok (\d+)/.exec(l)![1]))).toEqual(points.map((_, i) => i + 1));
    expect(points.filter((l) => l.startsWith("not ok"))).toHaveLength(11);
    expect(points.filter((l) => l.includes("# SKIP"))).toHaveLength(0);
    expect(points).toHaveLength(22); // 21 runs and a spec error, as the summary counts them
    const yaml = lines.slice(lines.findIndex((l) => l.includes("diverges [pre-fix]")) + 1);
    expect(yaml.slice(0, 6)).toEqual([
      "  ---",
      '  message: "1 expectation diverged"',
      "  severity: fail",
      "  divergences:",
      expect.stringMatching(/^    - at: \{ file: ".*mixed\.tce", line: 4, column: 2 \}$/),
      '      source: "expect get_tce phb0 0 == 0x5"',
    ]);
  });
});

describe("pretty", () => {
  it("shows a name longer than the column whole, on a line of its own", async () => {
    const name = "a spec whose name runs on well past the sixty characters of the name column, to the end";
    const path = join(mkdtempSync(join(tmpdir(), "tcespec-long-")), "long.tce");
    writeFileSync(path, `spec "${name}" { reset }\nspec "short" { reset }`);
    const lines = formatPretty(await run([path], { jobs: 1, profiles: ["qemu-7.2"] })).split("\n");
    expect(lines).toContain(`  ✓ ${name}`);
    const cells = lines[lines.indexOf(`  ✓ ${name}`) + 1]!;
    expect(cells).toMatch(/^ {4} {60}  qemu-7\.2 ✓$/);
    expect(lines.some((l) => l.includes("…"))).toBe(false);
  });

  it("a line per spec, a cell per profile, the divergence with a caret, and a summary", () => {
    const text = formatPretty(report);
    expect(text).toMatch(/✗ diverges\s+pre-fix ✗ {2}seed-v10 ✗ {2}qemu-2.7 ✗ {2}qemu-7.2 ✗/);
    expect(text).toMatch(/✓ only 7\.2\s+pre-fix · {2}seed-v10 · {2}qemu-2\.7 · {2}qemu-7\.2 ✓/);
    expect(text).toContain(" expect get_tce phb0 0 == 0x5\n       ^");
    expect(text).toMatch(/expected 0x5\s+actual 0x3/);
    expect(text).toMatch(/unexpectedly matched \(xfail "fixed already"\)/);
    expect(text.trimEnd().split("\n").pop()).toBe("5 specs, 21 runs, 11 passed, 10 diverged, 1 error (2 files)");
  });
});

describe("pretty says a mistake once", () => {
  it("the same divergence under five profiles is one block; what follows from it, one line", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "tcespec-group-")), "w.tce");
    writeFileSync(path, 'spec "wrong" {\n  put_tce phb0 0x1000 0x3\n  expect get_tce phb0 0x1000 == 0x4\n  expect get_tce phb0 0x1000 == 0x5\n  expect get_tce phb0 0x2000 == 0x1\n}\n');
    const text = formatPretty(await run([path], { jobs: 1 }));
    expect(text.match(/diverged under/g)).toHaveLength(1);
    expect(text).toContain("w.tce:3:3 diverged under pre-fix, seed-v10, qemu-2.7, qemu-7.2, qemu-10.0");
    expect(text).toContain("2 later expectations of this spec also diverged: 4:3 expected 0x5, actual 0x3 · 5:3 expected 0x1, actual 0x0");
    expect(text.split("\n").length).toBeLessThan(15);
  });

  it("profiles that answered differently get a block each", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "tcespec-group-")), "p.tce");
    // pre-fix keeps the table in KVM at the first plug; qemu-2.7 and qemu-7.2 move it to userspace.
    writeFileSync(path, 'spec "plug" {\n  machine kvm\n  phb phb0 index 0\n  plug vfio d0 on phb0\n  expect table(phb0) absent\n  expect hw(phb0) absent\n}\n');
    const text = formatPretty(await run([path], { jobs: 1, profiles: ["pre-fix", "qemu-2.7", "qemu-7.2"] }));
    expect(text.match(/p\.tce:5:3 diverged under [^\n]*/g)).toEqual(["p.tce:5:3 diverged under pre-fix", "p.tce:5:3 diverged under qemu-2.7, qemu-7.2"]);
  });
});

describe("big reports", () => {
  it("every reporter copes with 200,000 runs", () => {
    const runs = Array.from({ length: 200_000 }, (_, i) => ({
      file: `f${Math.floor(i / 4000)}.tce`,
      suite: "s",
      spec: `spec ${Math.floor(i / 4)}`,
      tags: [],
      profile: (["pre-fix", "seed-v10", "qemu-2.7", "qemu-7.2"] as const)[i % 4],
      backend: "model",
      status: "passed" as const,
      expectations: [],
    }));
    const big: Report = { files: [], runs, missing: [], backends: [{ name: "model", real: false }], threads: 0 };
    expect(formatPretty(big).trimEnd().split("\n").pop()).toBe("50000 specs, 200000 runs, 200000 passed, 0 diverged, 0 errors (0 files)");
    expect(formatTap(big).split("\n")[1]).toBe("1..200000");
    expect(formatJunit(big)).toContain('<testsuites name="tcespec" tests="200000"');
  });
});

describe("schemas", () => {
  it("the schema files users read are the ones the code uses", () => {
    for (const [path, schema] of Object.entries(SCHEMA_FILES)) {
      expect(readFileSync(new URL(`../../${path}`, import.meta.url), "utf8"), `${path} is stale: run npm run schemas`).toBe(
        schemaText(schema),
      );
    }
  });
  it("the migration stream schema rejects a tampered stream", () => {
    const valid = validator(migrationSchema);
    expect(valid({ version: 1, profile: "qemu-7.2", machine: { accel: "tcg", caps: [] }, phbs: [] })).toBe(true);
    expect(
      valid({
        version: 1,
        profile: "qemu-7.2",
        machine: { accel: "tcg", caps: [] },
        phbs: [{ name: "p", index: 0, dma32: "1G", pageShift: 12, ddw: true, windows: [], devices: [] }],
      }),
    ).toBe(false);
  });
});
