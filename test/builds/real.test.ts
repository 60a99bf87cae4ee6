// QEMU built from Debian's source with patches, judged by real software: the seed's fix reverted
// standing for the pre-fix profile under real KVM, the DDW abort fixed under TCG and under KVM,
// vfio and a table in userspace fixed under KVM, and every mutant in mutants/ killed by the library. Needs the builds .ci/run makes
// ('tcespec qemu build prefix …', 'tcespec qemu build ddw-fix …') and the L1 image; without them
// these tests skip, unless TCESPEC_REQUIRE_KVM=1 (set by .ci/run) makes that a failure.
import { describe, expect, it } from "vitest";
import { findBuild, missingTools, type QemuBuild } from "../../src/backends/qemu/build.js";
import { findImage } from "../../src/backends/kvm/image.js";
import { KvmBackend } from "../../src/backends/kvm/backend.js";
import { QemuBackend } from "../../src/backends/qemu/backend.js";
import { ModelBackend } from "../../src/backends/model.js";
import { run } from "../../src/run/runner.js";
import { compare } from "../../src/report/differential.js";
import { findMutants, mutate, type Mutant } from "../../src/run/mutate.js";

const REQUIRED = process.env.TCESPEC_REQUIRE_KVM === "1";
const image = findImage();
const prefix = findBuild("prefix");
const ddw = findBuild("ddw-fix");
const tceFd = findBuild("tce-fd-fix");
const problems = [
  ..."problem" in image ? [image.problem] : [],
  ..."problem" in prefix ? [`${prefix.problem} (.ci/run: tcespec qemu build prefix --debian 7.2 --patch mutants/revert-realloc.patch --target kvm)`] : [],
  ..."problem" in ddw ? [`${ddw.problem} (.ci/run: tcespec qemu build ddw-fix --debian 7.2 --patch patches/0001-…patch --target all)`] : [],
  ..."problem" in tceFd ? [`${tceFd.problem} (.ci/run: tcespec qemu build tce-fd-fix --debian 7.2 --patch patches/0002-…patch --target kvm)`] : [],
];
const READY = problems.length === 0;
if (!READY) console.warn(`the tests of QEMU builds on real software do not run: ${problems.join("; ")}`);

describe.runIf(REQUIRED && !READY)("QEMU builds on real KVM are required here (TCESPEC_REQUIRE_KVM=1)", () => {
  it("has the builds and the L1 image", () => {
    expect.fail(`TCESPEC_REQUIRE_KVM=1 but ${problems.join("; ")}`);
  });
});

describe.runIf(READY)("QEMU 7.2 built from Debian's source with the seed's fix reverted, under real KVM", () => {
  const build = prefix as QemuBuild;

  it("stands for pre-fix: the library's hotplug specs agree with the model, placement and the stale hardware table included", async () => {
    const kvm = new KvmBackend({ build, standsFor: "pre-fix" });
    expect(kvm.profiles).toEqual(["pre-fix"]);
    // The model plays the kernel L1 runs (Debian's 6.12: linux-6), as the command line's model,kvm does.
    expect(kvm.kernelRules).toBe("linux-6");
    const report = await run(["specs/hotplug"], { profiles: ["pre-fix"], backends: [new ModelBackend(false, kvm.kernelRules), kvm], jobs: 2 });
    const onKvm = report.runs.filter((r) => r.backend === "kvm");
    expect(onKvm.filter((r) => r.status === "error" || r.status === "diverged").map((r) => `${r.spec}: ${r.status} ${r.reason ?? ""}`)).toEqual([]);
    const [comparison] = compare(report);
    expect(comparison).toMatchObject({ backend: "kvm", disagreements: [] });
    expect(comparison!.compared).toBeGreaterThanOrEqual(18);
    // The stale hardware table was seen, not assumed: a DMA faulted and a probe found the table behind.
    const seen = onKvm.flatMap((r) => r.expectations).filter((e) => e.xfail !== undefined && e.outcome === "xfail");
    expect(seen.map((e) => e.actual)).toEqual(expect.arrayContaining(["fault", "out_of_sync"]));
    // Every report names the build, its base and its patch.
    expect(report.backends.find((b) => b.name === "kvm")!.identity).toMatchObject({
      qemu: expect.stringMatching(/^QEMU 7\.2\.\d+$/),
      build: expect.stringMatching(/^tcespec build 'prefix': QEMU 7\.2\.\d+ from Debian .* \+ revert-realloc\.patch \(sha256 [0-9a-f]{12}\)$/),
    });
  }, 600_000);

  it("diverges where it stands for qemu-7.2: the first plug leaves the table in KVM", async () => {
    const kvm = new KvmBackend({ build, standsFor: "qemu-7.2" });
    const report = await run(["specs/hotplug/first-plug.tce"], { grep: "moves to userspace", backends: [kvm] });
    const [only] = report.runs;
    expect(only).toMatchObject({ status: "diverged" });
    expect(only!.expectations.find((e) => e.source.startsWith("expect table(phb0) userspace"))).toMatchObject({ outcome: "diverged", actual: "kvm" });
  }, 300_000);
});

describe.runIf(READY)("the DDW abort, fixed by patches/0001-…: the reproducer on stock QEMU and on the fixed build", () => {
  const build = ddw as QemuBuild;
  const outcomes = async (backend: QemuBackend | KvmBackend, spec: string) => {
    const report = await run(["patches/ddw-refused-size.tce"], { grep: spec, backends: [backend] });
    return report.runs.map((r) => `${r.status} ${r.reason ?? ""}`.trim());
    // (a crash reads "crashed QEMU crashed at line N (…): <QEMU's last words> (SIGABRT)")
  };

  it("under TCG: stock aborts, the fixed build answers both creates", async () => {
    expect(await outcomes(new QemuBackend({ build }), "under TCG")).toEqual(["passed"]);
    expect(await outcomes(new QemuBackend({ version: "7.2" }), "under TCG")).toEqual([expect.stringMatching(/^crashed QEMU crashed at line 15 .*Assertion .!subregion->container. failed. \(SIGABRT\)$/)]);
  }, 120_000);

  it("under KVM: stock aborts, the fixed build answers both creates", async () => {
    expect(await outcomes(new KvmBackend({ build }), "under KVM")).toEqual(["passed"]);
    expect(await outcomes(new KvmBackend(), "under KVM")).toEqual([expect.stringMatching(/^crashed QEMU crashed at line 23 .*Assertion .!subregion->container. failed. \(SIGABRT\)$/)]);
  }, 300_000);
});

describe.runIf(READY)("a table in userspace next to a vfio-pci device, fixed by patches/0002-…: the reproducers on stock QEMU and on the fixed build", () => {
  const outcomes = async (backend: KvmBackend) => {
    const report = await run(["patches/vfio-table-in-userspace.tce"], { backends: [backend], jobs: 1 });
    return report.runs;
  };

  it("the fixed 7.2 listens to the table: both pass, DMA through it after three resets and three windows", async () => {
    // (The first one's WARN as QEMU exits is the one the spec expects: no table was ever attached to the group.)
    expect((await outcomes(new KvmBackend({ build: tceFd as QemuBuild }))).map((r) => `${r.spec}: ${r.status}`)).toEqual([
      "without spapr_tce: three resets: passed",
      "a 64-bit window KVM cannot hold, created and removed three times: passed",
    ]);
  }, 300_000);

  it("stock 7.2 never listens (its abort after the removals comes only now and then); stock 10.0 refuses the plug, and aborts at the window", async () => {
    const [resets] = await outcomes(new KvmBackend());
    // What is certain every time: no notifier, and the device's DMA faults where the guest mapped.
    expect(resets!.expectations.filter((e) => e.outcome === "diverged").map((e) => `${e.source} → ${e.actual}`).slice(0, 2)).toEqual([
      "expect notifiers(phb0) == 1 → 0",
      "expect dma d0 write 0x1010 == 0x23400010 → fault",
    ]);
    const [refused, window] = await outcomes(new KvmBackend({ qemuVersion: "10.0" }));
    expect(refused).toMatchObject({ status: "error", reason: expect.stringMatching(/device_add: .*failed GROUP_SET_SPAPR_TCE for KVM VFIO device -1/) });
    expect(window).toMatchObject({
      status: "crashed",
      crash: { software: "QEMU", source: "expect create_window phb0 page 64K size 1G == 0x80000001", report: expect.stringMatching(/qemu: hardware error: vfio: DMA mapping failed, unable to continue \(SIGABRT\)$/) },
    });
  }, 300_000);
});

describe.runIf(READY && !missingTools(["kvm"]))("the mutants in mutants/ on real KVM", () => {
  it("the library's hotplug specs kill every one, and each kill is named", async () => {
    const mutants = findMutants("mutants") as Mutant[];
    expect(mutants.map((m) => m.name)).toEqual(expect.arrayContaining(["revert-realloc", "skip-replay", "replug-not-replayed", "puts-not-notified"]));
    const result = await mutate({
      paths: ["specs/hotplug"],
      mutants,
      debian: "7.2",
      backend: "kvm",
      run: { jobs: 2 },
    });
    const diverged = result.baseline.report.runs.filter((r) => r.status === "diverged" || r.status === "error");
    expect(
      diverged.map((r) => `${r.file} ${r.spec}: ${r.status} ${r.reason ?? r.expectations.filter((e) => e.outcome === "diverged").map((e) => `${e.line}: ${e.actual} (${e.note ?? ""})`).join("; ")}`),
    ).toEqual([]);
    expect(result.mutants.map((m) => ({ name: m.mutant.name, error: m.error, killed: m.killedBy.length > 0 }))).toEqual(
      mutants.map((m) => ({ name: m.name, error: undefined, killed: true })),
    );
    const killers = (name: string) => new Set(result.mutants.find((m) => m.mutant.name === name)!.killedBy.map((k) => k.spec));
    // Each mutant is caught where its header says.
    expect(killers("revert-realloc")).toContain("the table moves to userspace and the hardware table is replayed");
    expect(killers("skip-replay")).toContain("the table moves to userspace and the hardware table is replayed");
    expect(killers("replug-not-replayed")).toContain("re-plug replays every mapping again");
    expect(killers("puts-not-notified")).toContain("puts after the plug reach the hardware table");
  }, 1_200_000);
});
