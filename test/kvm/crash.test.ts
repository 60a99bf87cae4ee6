// A crash of the host kernel is a verdict: the guest's one H_STUFF_TCE that oopses Linux 6.12
// (patches/kvm-stuff-past-end.tce) is reported as a host crash at its line, with the report, the
// faulting function and the call trace, and the guest after it runs on a fresh L1 and passes.
// Needs the L1 image; without it this skips, unless TCESPEC_REQUIRE_KVM=1 (.ci/run) fails it.
import { describe, expect, it } from "vitest";
import { findImage } from "../../src/backends/kvm/image.js";
import { KvmBackend } from "../../src/backends/kvm/backend.js";
import { run } from "../../src/run/runner.js";
import { exitCode } from "../../src/report/summary.js";
import { formatJson } from "../../src/report/json.js";
import { formatJunit } from "../../src/report/junit.js";
import { validator } from "../../src/schema/validate.js";
import { resultsSchema } from "../../src/schema/results.js";

const image = findImage();
const KVM = "manifest" in image;
const REQUIRED = process.env.TCESPEC_REQUIRE_KVM === "1";

describe.runIf(REQUIRED && !KVM)("real KVM is required for the host-crash test (TCESPEC_REQUIRE_KVM=1)", () => {
  it("has an L1 image", () => {
    expect.fail(`TCESPEC_REQUIRE_KVM=1 but ${"problem" in image ? image.problem : "no image"}`);
  });
});

describe.runIf(KVM)("a guest that crashes its host's kernel", () => {
  it("is a host crash at the stuff's line, in kvmppc_tce_put; the next guest runs on a fresh L1 and passes", async () => {
    const report = await run(["patches/kvm-stuff-past-end.tce"], { backends: [new KvmBackend()], jobs: 1 });
    const [crashed, next] = report.runs;
    expect(crashed).toMatchObject({
      status: "crashed",
      crash: {
        software: "host kernel",
        report: expect.stringMatching(/^BUG: Unable to handle kernel data access at 0x[0-9a-f]+$/),
        function: expect.stringMatching(/^kvmppc_tce_put\+/),
        line: 20,
        column: 3,
        source: "stuff_tce phb0 0x3ffff000 0x1000 2000000",
      },
    });
    expect(crashed!.crash!.trace!.slice(0, 3).join(" ")).toMatch(/kvmppc_tce_put.*kvmppc_h_stuff_tce.*kvmppc_pseries_do_hcall/);
    // Judged as far as it got: the put and get before the crash matched; `expect host ok` read crashed.
    expect(crashed!.expectations.map((e) => `${e.line} ${e.outcome} ${e.actual}`)).toEqual(["19 matched 0x1003", "21 diverged crashed"]);
    expect(next).toMatchObject({ status: "passed" });
    expect(exitCode(report)).toBe(1);
    const json = JSON.parse(formatJson(report));
    expect(validator(resultsSchema).explain(json)).toBeUndefined();
    expect(json.summary).toMatchObject({ crashed: 1, passed: 1, errors: 0 });
    expect(formatJunit(report)).toMatch(/<failure message="the host kernel crashed at line 20 \(stuff_tce phb0 0x3ffff000 0x1000 2000000\): BUG: Unable to handle kernel data access at 0x[0-9a-f]+ in kvmppc_tce_put\+0x[0-9a-f]+\/0x[0-9a-f]+" type="crash">/);
  }, 600_000);

  it("a guest that makes its host WARN: a verdict at the stuff's line, the guest judged to its end, each guest's WARN its own", async () => {
    const report = await run(["patches/kvm-hw-past-end-warn.tce"], { backends: [new KvmBackend()], jobs: 1 });
    const [warned, again, quiet] = report.runs;
    expect(warned).toMatchObject({
      status: "crashed",
      crash: {
        software: "host kernel",
        warning: true,
        report: expect.stringMatching(/^WARNING: CPU: \d+ PID: \d+ at arch\/powerpc\/kvm\/book3s_64_vio\.c:\d+ kvmppc_tce_iommu_(do_)?unmap\+/),
        function: expect.stringMatching(/^kvmppc_tce_iommu_(do_)?unmap\+0x[0-9a-f]+\/0x[0-9a-f]+ \[kvm\]$/),
        line: 22,
        source: "expect stuff_tce phb0 0x3fff_e000 0x0 4 == H_PARAMETER",
      },
    });
    expect(warned!.crash!.trace!.join(" ")).toMatch(/kvmppc_h_stuff_tce.*kvmppc_pseries_do_hcall/);
    // The guest went on: everything after the WARN was observed; `expect host` reads warned from its step on.
    expect(warned!.expectations.map((e) => `${e.line} ${e.outcome} ${e.actual}`)).toEqual(["21 matched ok", "22 matched H_PARAMETER", "23 matched 0x0", "24 diverged warned"]);
    // The next guest WARNs again (every WARN_ONCE armed anew); one that stays inside the window does not.
    expect(again).toMatchObject({ status: "crashed", crash: { warning: true, line: 30 } });
    expect(again!.expectations.map((e) => `${e.line} ${e.outcome} ${e.actual}`)).toEqual(["30 matched H_PARAMETER", "31 diverged warned"]);
    expect(quiet).toMatchObject({ status: "passed" });
    expect(quiet!.crash).toBeUndefined();
    expect(exitCode(report)).toBe(1);
    const json = JSON.parse(formatJson(report));
    expect(validator(resultsSchema).explain(json)).toBeUndefined();
    expect(formatJunit(report)).toMatch(/<failure message="the host kernel warned at line 22 \(expect stuff_tce phb0 0x3fff_e000 0x0 4 == H_PARAMETER\): WARNING: [^"]*" type="warning">/);
  }, 600_000);
});
