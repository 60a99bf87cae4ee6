// L1 on a kernel tcespec built from Debian's 6.12 source: without the patch it crashes on the
// guest's H_STUFF_TCE exactly as Debian's kernel does (the bug is upstream's, not the packaging's);
// with patches/linux-0001-…patch the stuff and the list past the window's end answer H_PARAMETER,
// nothing is written and the host stays up. Needs the kernel builds .ci/run makes ('tcespec kvm
// kernel build linux-stock|linux-fixed --debian 6.12 …') and the L1 image; without them this
// skips, unless TCESPEC_REQUIRE_KVM=1 (.ci/run) makes that a failure.
import { describe, expect, it } from "vitest";
import { findImage } from "../../src/backends/kvm/image.js";
import { findKernel, type KernelBuild } from "../../src/backends/kvm/kernel.js";
import { KvmBackend } from "../../src/backends/kvm/backend.js";
import { run } from "../../src/run/runner.js";
import { exitCode } from "../../src/report/summary.js";
import { ModelBackend } from "../../src/backends/model.js";
import { compare } from "../../src/report/differential.js";

const REQUIRED = process.env.TCESPEC_REQUIRE_KVM === "1";
const FIX = "patches/linux-0001-powerpc-iommu-check-the-whole-range-in-iommu_tce_check_ioba.patch";
const image = findImage();
const stock = findKernel("linux-stock");
const fixed = findKernel("linux-fixed");
const stockKasan = findKernel("linux-stock-kasan");
const fixedKasan = findKernel("linux-fixed-kasan");
const problems = [
  ..."problem" in image ? [image.problem] : [],
  ..."problem" in stock ? [`${stock.problem} (.ci/run: tcespec kvm kernel build linux-stock --debian 6.12)`] : [],
  ..."problem" in fixed ? [`${fixed.problem} (.ci/run: tcespec kvm kernel build linux-fixed --debian 6.12 --patch ${FIX} --kernel-rules linux-6-checked)`] : [],
  ..."problem" in stockKasan ? [`${stockKasan.problem} (.ci/run: tcespec kvm kernel build linux-stock-kasan --debian 6.12 --kasan)`] : [],
  ..."problem" in fixedKasan ? [`${fixedKasan.problem} (.ci/run: tcespec kvm kernel build linux-fixed-kasan --debian 6.12 --kasan --patch ${FIX} --kernel-rules linux-6-checked)`] : [],
];
const READY = problems.length === 0;
if (!READY) console.warn(`the tests of kernel builds on real KVM do not run: ${problems.join("; ")}`);

describe.runIf(REQUIRED && !READY)("kernel builds on real KVM are required here (TCESPEC_REQUIRE_KVM=1)", () => {
  it("has the kernel builds and the L1 image", () => {
    expect.fail(`TCESPEC_REQUIRE_KVM=1 but ${problems.join("; ")}`);
  });
});

describe.runIf(READY)("L1 on a kernel built from Debian's 6.12 source", () => {
  it("without the patch: the stuff past the end crashes it in kvmppc_tce_put, as Debian's kernel; the next guest passes on a fresh L1", async () => {
    const kvm = new KvmBackend({ hostKernel: stock as KernelBuild });
    const report = await run(["patches/kvm-stuff-past-end.tce"], { backends: [kvm], jobs: 1 });
    const [crashed, next] = report.runs;
    expect(crashed).toMatchObject({ status: "crashed", crash: { software: "host kernel", function: expect.stringMatching(/^kvmppc_tce_put\+/), line: 20 } });
    expect(next).toMatchObject({ status: "passed" });
    expect(exitCode(report)).toBe(1);
    // The kernel that judged is the build, and the report says so.
    expect(report.backends.find((b) => b.name === "kvm")?.identity?.kernel).toMatch(/^6\.12\.\d+-tcespec \(tcespec kernel 'linux-stock': Linux 6\.12\.\d+ from Debian linux 6\.12\.\d+-\S+, no patches\)$/);
  }, 600_000);

  it("with the patch: H_PARAMETER for the stuff and the list past the end, nothing written, a stuff inside still works, the host stays up", async () => {
    const kvm = new KvmBackend({ hostKernel: fixed as KernelBuild });
    const report = await run(["patches/kvm-stuff-past-end-fixed.tce"], { backends: [kvm], jobs: 1 });
    expect(report.runs.map((r) => `${r.spec}: ${r.status}`)).toEqual([
      "the stuff past the end: passed",
      "a list past the end: passed",
      "a stuff inside the window still works: passed",
    ]);
    expect(exitCode(report)).toBe(0);
    expect(kvm.identity()?.kernel).toMatch(/^6\.12\.\d+-tcespec \(tcespec kernel 'linux-fixed': Linux 6\.12\.\d+ from Debian linux \S+ \+ linux-0001-powerpc-iommu-check-the-whole-range-in-iommu_tce_check_ioba\.patch \(sha256 [0-9a-f]{12}\); stands for linux-6-checked\)$/);
  }, 600_000);

  it("with the patch: the stuff past the end with a hardware table is refused before the hardware table sees it, and the kernel does not WARN", async () => {
    const report = await run(["patches/kvm-hw-past-end-warn.tce"], { backends: [new KvmBackend({ hostKernel: fixed as KernelBuild })], jobs: 1 });
    expect(report.runs.map((r) => `${r.spec}: ${r.status}${r.crash ? ` (${r.crash.report})` : ""}`)).toEqual([
      "a stuff past the end with a hardware table: passed",
      "the same, in the next guest: passed",
      "a stuff inside the window: passed",
    ]);
    expect(exitCode(report)).toBe(0);
  }, 600_000);

  it("the Linux-6 specs agree with the model playing linux-6-checked, the hardware table included", async () => {
    const report = await run(["specs/hcalls/kvm-linux-6.tce"], {
      profiles: ["qemu-7.2"],
      backends: [new ModelBackend(false, "linux-6-checked"), new KvmBackend({ hostKernel: fixed as KernelBuild })],
      jobs: 1,
    });
    const real = report.runs.filter((r) => r.backend === "kvm");
    expect(real.map((r) => `${r.spec}: ${r.status}${r.status !== "passed" && r.reason ? ` (${r.reason})` : ""}`)).toEqual(report.runs.filter((r) => r.backend === "model").map((r) => `${r.spec}: passed`));
    // A passed run's report is a WARN its spec expects (a list entry of no permission: this kernel too).
    for (const r of real) if (r.crash) expect(r.crash.warning, `${r.spec}: ${r.crash.report}`).toBe(true);
    // The expectations of the kernel as released were skipped, and this kernel's were checked.
    const checked = real.find((r) => r.spec === "a kernel that checks the whole range, with a hardware table")!;
    expect(checked.expectations.filter((e) => e.outcome === "matched").map((e) => e.line).length).toBeGreaterThanOrEqual(6);
    expect(compare(report)).toMatchObject([{ backend: "kvm", disagreements: [] }]);
  }, 900_000);
});

describe.runIf(READY)("L1 on the same kernels with KASAN", () => {
  it("as released: the library's own stuff of zeros past the end reads past stt->pages[], and KASAN says so at its line", async () => {
    const report = await run(["specs/hcalls/kvm-linux-6.tce"], { profiles: ["qemu-7.2"], grep: "first entry only", backends: [new KvmBackend({ hostKernel: stockKasan as KernelBuild })], jobs: 1 });
    expect(report.runs).toHaveLength(1);
    expect(report.runs[0]).toMatchObject({
      status: "crashed",
      crash: { software: "host kernel", report: expect.stringMatching(/^BUG: KASAN: slab-out-of-bounds in kvmppc_tce_put\+/), function: expect.stringMatching(/^kvmppc_tce_put\+/), line: 24 },
    });
    expect(report.runs[0]!.crash!.trace!.slice(0, 2).join(" ")).toMatch(/^kvmppc_tce_put\+\S+ kvmppc_h_stuff_tce\+/);
  }, 600_000);

  it("as released: a list of zero TCEs past the end reads out of bounds too (no oops: only KASAN sees it)", async () => {
    const report = await run(["patches/kvm-indirect-past-end.tce"], { backends: [new KvmBackend({ hostKernel: stockKasan as KernelBuild })], jobs: 1 });
    expect(report.runs[0]).toMatchObject({
      status: "crashed",
      crash: { report: expect.stringMatching(/^BUG: KASAN: slab-out-of-bounds in kvmppc_tce_put\+/), line: 18 },
    });
    expect(report.runs[0]!.crash!.trace!.slice(0, 2).join(" ")).toMatch(/^kvmppc_tce_put\+\S+ kvmppc_h_put_tce_indirect\+/);
  }, 600_000);

  it("with the fix: the Linux-6 specs pass and KASAN reports nothing", async () => {
    const report = await run(["specs/hcalls/kvm-linux-6.tce"], { profiles: ["qemu-7.2"], backends: [new KvmBackend({ hostKernel: fixedKasan as KernelBuild })], jobs: 1 });
    expect(report.runs.map((r) => `${r.spec}: ${r.status}${r.status !== "passed" && r.reason ? ` (${r.reason})` : ""}`)).toEqual(report.runs.map((r) => `${r.spec}: passed`));
    // What the specs expect is a WARN at most: no KASAN report anywhere.
    for (const r of report.runs) if (r.crash) expect(r.crash.warning && !/KASAN/.test(r.crash.report), `${r.spec}: ${r.crash.report}`).toBe(true);
    expect(report.runs.length).toBeGreaterThanOrEqual(5);
  }, 900_000);
});
