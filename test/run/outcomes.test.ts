// Every outcome kind an expectation can get, and what a divergence carries.
import { describe, expect, it } from "vitest";
import { outcomes, runText } from "../helpers.js";

describe("outcomes", () => {
  it("matched and diverged, with expected and actual as the language writes them", () => {
    const run = runText(
      "put_tce phb0 0x1000 0x12340000 rw\nexpect get_tce phb0 0x1000 == 0x12340003\nexpect get_tce phb0 0x1000 == 0x5\nexpect get_tce phb0 0x1000 != 0x5",
      "qemu-7.2",
    );
    expect(outcomes(run)).toEqual(["2:matched", "3:diverged", "4:matched"]);
    expect(run.status).toBe("diverged");
    expect(run.expectations[1]).toMatchObject({
      expected: "0x5",
      actual: "0x12340003",
      op: "==",
      column: 1,
      source: "expect get_tce phb0 0x1000 == 0x5",
    });
  });

  it("a diverged outcome lists the steps run before it", () => {
    const run = runText("machine tcg\nphb phb0 index 0\nput_tce phb0 0x1000 0x3\nexpect table(phb0) kvm", "pre-fix");
    expect(run.expectations[0]).toMatchObject({ outcome: "diverged", expected: "kvm", actual: "userspace" });
    expect(run.expectations[0]!.steps).toEqual(["2:1 phb phb0 index 0", "3:1 put_tce phb0 0x1000 0x3"]);
  });

  it("skipped when its profile list excludes the profile, and not run there", () => {
    const text = "expect put_tce phb0 0x0 0x1003 == H_SUCCESS when profile qemu-7.2\nexpect get_tce phb0 0x0 == 0x1003";
    expect(outcomes(runText(text, "qemu-7.2"))).toEqual(["1:matched", "2:matched"]);
    const other = runText(text, "pre-fix");
    expect(outcomes(other)).toEqual(["1:skipped", "2:diverged"]);
  });

  it("xfail when a known divergence diverges; xpass fails the spec when it matches", () => {
    const xfail = runText('expect table(phb0) kvm xfail "tcg has no KVM"', "qemu-7.2");
    expect([outcomes(xfail), xfail.status]).toEqual([["1:xfail"], "passed"]);
    const xpass = runText('expect table(phb0) userspace xfail "not a bug after all"', "qemu-7.2");
    expect([outcomes(xpass), xpass.status]).toEqual([["1:xpass"], "diverged"]);
    expect(xpass.expectations[0]!.xfail).toBe("not a bug after all");
  });

  it("a bare action that does not succeed is a divergence at its line, and the run goes on", () => {
    const run = runText("put_tce phb0 0x4000_0000 0x3\nremove_window phb0[1]\nmigrate\nexpect get_tce phb0 0x0 == 0", "qemu-7.2");
    expect(run.expectations.map((e) => [e.line, e.outcome, e.expected, e.actual, e.action])).toEqual([
      [1, "diverged", "H_SUCCESS", "H_PARAMETER", true],
      [2, "diverged", "RTAS_OK", "RTAS_PARAM_ERROR", true],
      [4, "matched", "0x0", "0x0", undefined],
    ]);
  });

  it("a bare DMA must translate, a bare migrate must go through", () => {
    const run = runText("plug emulated net0 on phb0\ndma net0 read 0x0\nplug vfio d on phb0\nmigrate", "qemu-7.2");
    expect(run.expectations.map((e) => [e.line, e.expected, e.actual])).toEqual([
      [2, "an address", "fault"],
      [4, "ok", "blocked"],
    ]);
  });

  it("RTAS_NOT_SUPPORTED and RTAS_PARAM_ERROR are the same status", () => {
    const run = runText("phb p index 0 ddw off\nexpect query_window p == RTAS_NOT_SUPPORTED", "qemu-7.2");
    expect(outcomes(run)).toEqual(["2:matched"]);
  });

  it("the spec's profiles limit where it runs; setup runs before every spec on a fresh engine", () => {
    const text = 'setup { machine tcg; phb phb0 index 0 }\nspec "a" { put_tce phb0 0 0x3 }\nspec "b" { expect get_tce phb0 0 == 0 }';
    expect(runText(text, "qemu-7.2", "b").status).toBe("passed");
  });
});
