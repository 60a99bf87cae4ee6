// The kvm backend on a PowerNV host: L1 a bare-metal POWER9 (QEMU 10.0's powernv9, skiboot, PHB4)
// running KVM-HV natively, as POWER servers do. Needs the L1 image (`tcespec kvm setup`) and QEMU
// 10.0 (`tcespec qemu setup 10.0`); without them these tests skip, unless TCESPEC_REQUIRE_KVM=1
// (set by .ci/run) makes that a failure.
import { describe, expect, it } from "vitest";
import { KvmBackend } from "../../src/backends/kvm/backend.js";
import { findImage } from "../../src/backends/kvm/image.js";
import { fetchedQemu } from "../../src/backends/qemu/versions.js";
import { ModelBackend } from "../../src/backends/model.js";
import { run } from "../../src/run/runner.js";
import { compare } from "../../src/report/differential.js";

const image = findImage();
const q10 = fetchedQemu("10.0");
const READY = "manifest" in image && !("problem" in q10);
const REQUIRED = process.env.TCESPEC_REQUIRE_KVM === "1";
const why = "problem" in image ? image.problem : "problem" in q10 ? q10.problem : "";
if (!READY) console.warn(`the PowerNV host's tests do not run: ${why}`);

describe.runIf(REQUIRED && !READY)("a PowerNV host is required here (TCESPEC_REQUIRE_KVM=1)", () => {
  it("has an L1 image and QEMU 10.0", () => {
    expect.fail(`TCESPEC_REQUIRE_KVM=1 but ${why}`);
  });
});

describe.runIf(READY)("real KVM on a PowerNV host", () => {
  it("runs the vfio-pci and window specs with the model playing PowerNV: what only this host shows, and what only it can run", async () => {
    const files = ["specs/hotplug", "specs/windows", "specs/devices/vfio-dma.tce", "specs/hcalls/kvm-linux-6.tce", "specs/hcalls/high-ram.tce"];
    const kvm = new KvmBackend({ host: "powernv" });
    const report = await run(files, { profiles: ["qemu-7.2"], backends: [new ModelBackend(false, undefined, "powernv"), kvm], jobs: 2 });
    const onKvm = report.runs.filter((r) => r.backend === "kvm");
    expect(onKvm.filter((r) => !["passed", "unsupported"].includes(r.status)).map((r) => `${r.spec}: ${r.status} ${r.reason ?? ""}`)).toEqual([]);
    const [comparison] = compare(report);
    expect(comparison).toMatchObject({ backend: "kvm", disagreements: [] });
    // Every run that ran on the host was compared (34 of them in this session's CI).
    expect(comparison!.compared).toBe(onKvm.filter((r) => r.status === "passed").length);
    expect(comparison!.compared).toBeGreaterThanOrEqual(30);
    // Nothing is unsupported for a vfio-pci device's window or a TCE above 2 GiB here: the guest
    // has 9 GiB, PowerNV makes windows of any size.
    const unsupported = onKvm.filter((r) => r.status === "unsupported").map((r) => r.reason ?? "");
    expect(unsupported.filter((u) => !u.startsWith("machine tcg"))).toEqual([]);
    const ran = (spec: string) => onKvm.find((r) => r.spec === spec)?.status;
    expect(ran("a window created with a device present")).toBe("passed");
    expect(ran("a list above 4 GiB of guest RAM, under KVM")).toBe("passed");
    // The facts of this host were checked here, and those of a pseries host skipped.
    const checked = onKvm.flatMap((r) => r.expectations).filter((e) => e.outcome === "matched" && e.source.includes("when host powernv"));
    expect(checked.length).toBeGreaterThanOrEqual(8);
    expect(onKvm.flatMap((r) => r.expectations).filter((e) => e.source.includes("when host pseries") && e.outcome !== "skipped")).toEqual([]);
    // The report names the host that judged.
    expect(report.backends.find((b) => b.name === "kvm")!.identity).toMatchObject({
      host: "powernv",
      qemu: expect.stringMatching(/^QEMU 7\.2\.\d+/),
      kernel: expect.stringMatching(/^6\.12\./),
    });
  }, 900_000);
});
