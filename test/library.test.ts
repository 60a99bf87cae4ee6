// The spec library: every spec under every profile it names, as vitest tests (through the
// helper the package exports); the rules it covers; the matrix page it generates.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { specSuite } from "../src/vitest.js";
import { compileFiles, run } from "../src/run/runner.js";
import { formatMatrixMarkdown } from "../src/report/matrix.js";

specSuite(["specs", "test/examples"]);

const TOPICS = new Set(["hcalls", "kvm", "windows", "placement", "hotplug", "devices", "reset", "migration", "regression"]);

describe("the library as a whole", () => {
  const { files } = compileFiles(["specs"]);
  const specs = files.flatMap((f) => f.specs);

  it("holds at least 40 specs over the six topic folders, each file saying where its facts come from", () => {
    expect(specs.length).toBeGreaterThanOrEqual(40);
    const folders = new Set(files.map((f) => f.file.split("/")[1]));
    expect([...folders].sort()).toEqual(["devices", "hcalls", "hotplug", "placement", "reset-migration", "windows"]);
    for (const f of files) expect(f.source.startsWith("#"), `${f.file} starts with a comment`).toBe(true);
  });

  it("names every rule of RULES.md in some spec's tags, and no unknown rule", () => {
    const rules = [...readFileSync("specs/RULES.md", "utf8").matchAll(/^- `([a-z0-9.-]+)`/gm)].map((m) => m[1]!);
    expect(rules.length).toBeGreaterThan(40);
    const tagged = new Set(specs.flatMap((s) => s.tags));
    const withoutSpec = rules.filter((r) => !tagged.has(r));
    expect(withoutSpec, "rules without a spec").toEqual([]);
    const unknown = [...tagged].filter((t) => !TOPICS.has(t) && !rules.includes(t));
    expect(unknown, "tags that are neither topics nor rules").toEqual([]);
  });

  it("docs/semantics.md is the matrix tcespec generates now (npm run matrix)", async () => {
    const report = await run(["specs"], { jobs: 1 });
    const source = { paths: ["specs"], command: "tcespec matrix specs --format markdown" };
    expect(readFileSync("docs/semantics.md", "utf8")).toBe(formatMatrixMarkdown(report, source));
  });
});

