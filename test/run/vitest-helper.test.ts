// The `tcespec/vitest` helper as a user runs it: a vitest of its own over a test file that calls
// specSuite, from the compiled package. Failures must point at the .tce line, options must select.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { hasCommand } from "../helpers.js";

const root = fileURLToPath(new URL("../..", import.meta.url));
const helper = join(root, "dist/src/vitest.js");

function vitestOver(tce: string, call: string): { status: number | null; out: string } {
  const dir = mkdtempSync(join(tmpdir(), "tcespec-vitest-"));
  writeFileSync(join(dir, "specs.tce"), tce);
  writeFileSync(join(dir, "vitest.config.mjs"), 'export default { test: { include: ["*.test.mjs"], hookTimeout: 120000 } };\n');
  writeFileSync(join(dir, "specs.test.mjs"), `import { specSuite } from ${JSON.stringify(helper)};\n${call.replace("SPECS", JSON.stringify(join(dir, "specs.tce")))}\n`);
  const r = spawnSync("node", [join(root, "node_modules/vitest/vitest.mjs"), "run", "--root", dir], {
    encoding: "utf8",
    env: { ...process.env, NO_COLOR: "1", FORCE_COLOR: "0" },
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

const SPECS = `spec "holds" tags a { expect table(phb0) userspace }
spec "diverges" tags a {
  put_tce phb0 0 0x3
  expect get_tce phb0 0 == 0x5
}
spec "other tag" tags b { expect table(phb0) kvm }
`;

describe("specSuite", () => {
  it("points a divergence at its .tce line, and selects by tag and profile", () => {
    const r = vitestOver(SPECS, 'specSuite([SPECS], { tags: ["a"], profiles: ["qemu-7.2"] });');
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/Tests\s+1 failed \| 1 passed \(2\)/);
    expect(r.out).toContain("expected 0x5, actual 0x3");
    expect(r.out).toMatch(/❯ specs\.tce:4:3/);
    expect(r.out).not.toContain("dist/src/vitest.js");
  }, 60_000);
  it("points a spec error at its line", () => {
    const r = vitestOver('spec "x" {\n  put_tce phb0 == 1\n}\n', "specSuite([SPECS]);");
    expect(r.status).toBe(1);
    expect(r.out).toMatch(/❯ specs\.tce:2:16/);
  }, 60_000);
  it.runIf(hasCommand("qemu-system-ppc64"))("runs on a real backend, skipping the profiles it does not stand for", () => {
    const r = vitestOver(SPECS, 'specSuite([SPECS], { backend: "qemu", grep: "holds" });');
    expect(r.out).toMatch(/Tests\s+1 passed \| 4 skipped \(5\)/);
    expect(r.status).toBe(0);
  }, 120_000);
});
