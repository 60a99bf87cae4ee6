// The explorer against real QEMU under TCG, as a user runs it: 400 scenarios of seed 1 (8 to a
// machine, in batches) find no difference with the model, and the one crash they meet is the QEMU
// abort already filed (docs/known-findings), counted as known. A new difference, a crash that is
// not the filed one, or the filed one no longer met (QEMU fixed, or the generator no longer
// reaching it) fails it.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fetchedQemu } from "../../src/backends/qemu/versions.js";
import { knownSignatures } from "../../src/explore/state.js";
import { hasCommand } from "../helpers.js";

function explore(extra: string[]) {
  const out = mkdtempSync(join(tmpdir(), "tcespec-explore-"));
  const r = spawnSync(
    process.execPath,
    [resolve("bin/tcespec.js"), "explore", "--backend", "model,qemu", "--budget", "400", "--seed", "1", "--out", out, "--known", resolve("docs/known-findings"), ...extra],
    { encoding: "utf8", timeout: 600_000 },
  );
  return { status: r.status, out: r.stdout, err: r.stderr, dir: out };
}

describe("docs/known-findings", () => {
  it("holds the filed QEMU aborts' signatures (the DDW abort under TCG and KVM for 7.2 and 10.0, the vfio fd -1 one under KVM for each, by either of its two assertions on 7.2) and the host kernel's stuff-past-end oops", () => {
    const known = knownSignatures([resolve("docs/known-findings")]);
    expect("problem" in known).toBe(false);
    const signatures = [...(known as Set<string>)];
    expect(signatures).toHaveLength(10);
    for (const backend of ["qemu", "kvm"])
      for (const version of ["7.2", "10.0"])
        expect(signatures.some((s) => s.startsWith(`${backend} qemu-${version}: QEMU crashed: `) && s.includes("memory_region_add_subregion_common"))).toBe(true);
    expect(signatures).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^kvm qemu-7\.2: QEMU crashed: .*memory_region_finalize: Assertion `!mr->container' f$/),
        "kvm qemu-7.2: QEMU crashed: ERROR:../../qom/object.c:1198:object_unref: assertion failed: (obj->ref > 0) (SIGABRT)",
        "kvm qemu-10.0: QEMU crashed: qemu: hardware error: vfio: DMA mapping failed, unable to continue (SIGABRT)",
        expect.stringMatching(/^kvm qemu-10\.0: host step N failed: device_add: .*GROUP_SET_SPAPR_TCE/),
        "kvm qemu-7.2: host kernel crashed in kvmppc_tce_put: BUG: Unable to handle kernel data access at N",
      ]),
    );
  });
});

describe.runIf(hasCommand("qemu-system-ppc64"))("tcespec explore --backend model,qemu (QEMU 7.2)", () => {
  it("400 scenarios: no difference with the model, the filed abort met and counted as known", () => {
    const r = explore([]);
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/^400 scenarios \(seed 1; 0 could not run on both\): 0 differences, 0 crashes or errors;/m);
    expect(r.out).toMatch(/^ {2}known, met again in \d+ scenarios?: qemu qemu-7\.2: QEMU crashed: .*memory_region_add_subregion_common/m);
    const state = JSON.parse(readFileSync(join(r.dir, "explore-state.json"), "utf8"));
    expect(state.tried).toBe(400);
  }, 600_000);
});

describe.runIf(hasCommand("qemu-system-ppc64") && "binary" in fetchedQemu("10.0"))("tcespec explore --backend model,qemu --qemu-version 10.0", () => {
  it("400 scenarios: no difference with the model, the filed abort met and counted as known", () => {
    const r = explore(["--qemu-version", "10.0"]);
    expect(r.status, r.out + r.err).toBe(0);
    expect(r.out).toMatch(/^400 scenarios \(seed 1; 0 could not run on both\): 0 differences, 0 crashes or errors;/m);
    expect(r.out).toMatch(/^ {2}known, met again in \d+ scenarios?: qemu qemu-10\.0: QEMU crashed: .*memory_region_add_subregion_common/m);
  }, 600_000);
});
