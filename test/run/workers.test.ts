// Worker threads pay for themselves: the decision (a function of measured costs) is tested with
// fixed numbers, a light run stays in this thread, and workers, when used, answer what this thread
// answers (the test fails when no worker answered). The compiled runner is used, as the bin uses it.
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { spreadPays, type run as runType } from "../../src/run/runner.js";
import { formatJson } from "../../src/report/json.js";

const { run } = (await import(new URL("../../dist/src/run/runner.js", import.meta.url).href)) as { run: typeof runType };
const dir = mkdtempSync(join(tmpdir(), "tcespec-workers-"));

/** Specs with few steps and much work: 5,120 mappings replayed into a vfio table at each plug. */
function heavySuite(specs: number): string {
  const entries = (k: number) => Array.from({ length: 512 }, (_, j) => `0x${(0x1000_0000 + (k * 512 + j) * 0x20000 + 3).toString(16)}`);
  const steps = [
    ...Array.from({ length: 10 }, (_, k) => `  put_tce_indirect phb0 0x${(k * 512 * 4096).toString(16)} [${entries(k).join(", ")}]`),
    ...Array.from({ length: 20 }, () => "  plug vfio d on phb0\n  unplug d"),
    "  expect get_tce phb0 0x0 == 0x10000003",
  ].join("\n");
  const body = Array.from({ length: specs }, (_, i) => `spec "heavy ${i}" {\n${steps}\n}`);
  return `setup {\n  machine kvm caps spapr_tce\n  phb phb0 index 0\n}\n${body.join("\n")}\n`;
}

describe("--jobs", () => {
  it("keeps a light run in this thread", async () => {
    const report = await run(["specs"], { jobs: 4 });
    expect(report.runs.length).toBeGreaterThan(400);
    expect(report.threads).toBe(0);
  });
  it("spreads only what is worth more than starting workers and copying specs", () => {
    expect(spreadPays(20_000, 10, 2, 2)).toBe(true);
    expect(spreadPays(300, 0, 2, 2)).toBe(false); // less than starting a worker
    expect(spreadPays(5_000, 2_000, 2, 2)).toBe(false); // copying the specs costs what running them does
    expect(spreadPays(20_000, 10, 2, 1)).toBe(false); // one core: nothing to win
  });
  // Whether a given run pays depends on this machine's speed; that workers work when used does not.
  it.runIf(availableParallelism() > 1)("spreads a run over workers when told to, with the report one thread gives", async () => {
    const path = join(dir, "heavy.tce");
    writeFileSync(path, heavySuite(8));
    const spread = await run([path], { jobs: 2, profiles: ["qemu-7.2"], spread: "always" });
    expect(spread.threads).toBe(1);
    expect(spread.runs.every((r) => r.status === "passed")).toBe(true);
    const alone = await run([path], { jobs: 1, profiles: ["qemu-7.2"] });
    expect(alone.threads).toBe(0);
    expect(formatJson(spread)).toBe(formatJson(alone));
  }, 60_000);
});
