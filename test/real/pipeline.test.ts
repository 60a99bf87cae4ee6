// The real-target pipeline behind its seam: a target is a Launcher and a traits object. Here the
// target is a fake whose "machine" answers from a script, so every path of the pipeline (plan,
// launch, judge, unsupported, problems, failures, identity) is tested without QEMU.
import { describe, expect, it } from "vitest";
import { RealBackend, type GuestJob, type Launched, type Launcher } from "../../src/backends/real/pipeline.js";
import { TCG_TRAITS } from "../../src/backends/qemu/backend.js";
import { KVM_TRAITS } from "../../src/backends/kvm/backend.js";
import type { MachineTraits } from "../../src/backends/real/traits.js";
import { run } from "../../src/run/runner.js";
import { ModelBackend } from "../../src/backends/model.js";
import { compare } from "../../src/report/differential.js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { specOf } from "../helpers.js";

/** A result line as the guest prints it: the return code and the value, 16 hex digits each. */
const line = (code: bigint, value: bigint) => `${BigInt.asUintN(64, code).toString(16).padStart(16, "0")}${value.toString(16).padStart(16, "0")}`;

class FakeLauncher implements Launcher<undefined> {
  launched: GuestJob<undefined>[][] = [];
  constructor(
    readonly traits: MachineTraits,
    private readonly answer: (job: GuestJob<undefined>) => Launched,
    private readonly trouble?: string,
  ) {}
  async problem() {
    return this.trouble;
  }
  async prepare() {
    return undefined;
  }
  async launch(jobs: readonly GuestJob<undefined>[]) {
    this.launched.push([...jobs]);
    return jobs.map(this.answer);
  }
  identity() {
    return this.launched.length > 0 ? { qemu: "QEMU 7.2.99 (fake)" } : undefined;
  }
}

const putGet = specOf("machine tcg\nphb phb0 index 0\nput_tce phb0 0 0x3\nexpect get_tce phb0 0 == 0x3");

describe("real software that crashes under a spec", () => {
  const text = "machine tcg\nphb phb0 index 0\nput_tce phb0 0 0x3\nexpect get_tce phb0 0 == 0x3\nput_tce phb0 0x1000 0x3\nexpect get_tce phb0 0x1000 == 0x3\nexpect host ok";
  const spec = specOf(text);
  const crash = { software: "QEMU" as const, report: "qemu-system-ppc64: assertion failed (SIGABRT)" };
  // The machine printed the first put's and get's answers, then died during the second put.
  const crashing = new FakeLauncher(TCG_TRAITS, () => ({ console: [line(0n, 0n), line(0n, 3n)].join("\n"), crash }));

  it("is a crash at the step that was running: the steps before it judged, host read as crashed, the rest not reached", async () => {
    const [result] = await new RealBackend("fake", ["qemu-7.2"], crashing).runBatch([{ spec, profile: "qemu-7.2" }], 1);
    expect(result).toMatchObject({ status: "crashed", crash: { ...crash, line: 5, source: "put_tce phb0 0x1000 0x3" }, reason: "QEMU crashed at line 5 (put_tce phb0 0x1000 0x3): qemu-system-ppc64: assertion failed (SIGABRT)" });
    expect(result!.expectations.map((e) => `${e.line} ${e.outcome} ${e.actual}`)).toEqual(["4 matched 0x3", "6 skipped not reached: QEMU crashed at line 5", "7 diverged crashed"]);
  });

  it("a spec that expects the crash passes, and says so", async () => {
    const expecting = specOf(text.replace("expect host ok", 'expect host ok xfail "QEMU aborts here"'));
    const [result] = await new RealBackend("fake", ["qemu-7.2"], crashing).runBatch([{ spec: expecting, profile: "qemu-7.2" }], 1);
    expect(result).toMatchObject({ status: "passed", crash: { software: "QEMU", line: 5 } });
    const [plain] = await new RealBackend("fake", ["qemu-7.2"], crashing).runBatch([{ spec: specOf(text.replace("expect host ok", "expect host crashed")), profile: "qemu-7.2" }], 1);
    expect(plain).toMatchObject({ status: "passed" });
  });
});

describe("a host kernel that WARNs under a spec", () => {
  const text = "machine kvm\nphb phb0 index 0\nput_tce phb0 0 0x3\nexpect host ok\nput_tce phb0 0x1000 0x3\nexpect get_tce phb0 0x1000 == 0x3\nexpect host ok";
  const report = { software: "host kernel" as const, warning: true as const, report: "WARNING: CPU: 0 PID: 9 at arch/powerpc/kvm/book3s_64_vio.c:476 kvmppc_tce_iommu_unmap+0x168/0x190 [kvm]", function: "kvmppc_tce_iommu_unmap+0x168/0x190 [kvm]" };
  // The guest ran to its end; the kernel log placed the WARN after the first put and its mark.
  const all = [line(0n, 0n), "TCESPEC-MARK", line(0n, 0n), line(0n, 3n), "TCESPEC-MARK"].join("\n");
  const warning = (before: string, placed: "among" | "start" | "unplaced" = "among") => new FakeLauncher(KVM_TRAITS, () => ({ console: all, warning: { report, before, placed } }));
  const during = warning([line(0n, 0n), "TCESPEC-MARK", ""].join("\n"));

  it("is a verdict at the step that caused it; every expectation is judged, `expect host` reads warned from that step on", async () => {
    const [result] = await new RealBackend("fake", ["qemu-7.2"], during).runBatch([{ spec: specOf(text), profile: "qemu-7.2" }], 1);
    expect(result).toMatchObject({ status: "crashed", crash: { ...report, line: 5, source: "put_tce phb0 0x1000 0x3" } });
    expect(result!.reason).toBe(`the host kernel warned at line 5 (put_tce phb0 0x1000 0x3): ${report.report} in ${report.function}`);
    expect(result!.expectations.map((e) => `${e.line} ${e.outcome} ${e.actual}`)).toEqual(["4 matched ok", "6 matched 0x3", "7 diverged warned"]);
  });

  it("a spec that expects it passes (expect host warned, or host ok with xfail)", async () => {
    for (const expecting of [text.replace(/expect host ok$/, "expect host warned"), text.replace(/expect host ok$/, 'expect host ok xfail "the kernel WARNs"')]) {
      const [result] = await new RealBackend("fake", ["qemu-7.2"], during).runBatch([{ spec: specOf(expecting), profile: "qemu-7.2" }], 1);
      expect(result).toMatchObject({ status: "passed", crash: { warning: true, line: 5 } });
    }
  });

  it("after the guest's last step (as its QEMU exited): only `expect host … at exit` sees it", async () => {
    const atExit = warning(`TCESPEC-BEGIN\n${all}\nTCESPEC-END\n`);
    const [result] = await new RealBackend("fake", ["qemu-7.2"], atExit).runBatch([{ spec: specOf(`${text}\nexpect host ok at exit`), profile: "qemu-7.2" }], 1);
    expect(result).toMatchObject({ status: "crashed", reason: `the host kernel warned after the guest's last step, as its QEMU exited: ${report.report} in ${report.function}` });
    expect(result!.crash!.line).toBeUndefined();
    expect(result!.expectations.map((e) => `${e.line} ${e.outcome} ${e.actual}`)).toEqual(["4 matched ok", "6 matched 0x3", "7 matched ok", "8 diverged warned"]);
    const [expected] = await new RealBackend("fake", ["qemu-7.2"], atExit).runBatch([{ spec: specOf(`${text}\nexpect host warned at exit`), profile: "qemu-7.2" }], 1);
    expect(expected).toMatchObject({ status: "passed" });
    // As its QEMU started (before the guest's first line), or where the log could not say: at no statement, and `expect host` reads warned throughout.
    for (const [placed, words] of [["start", "before the guest's first step, as its QEMU started"], ["unplaced", "while the guest ran (the kernel log holds no copy of the guest's lines to place it among)"]] as const) {
      const [run] = await new RealBackend("fake", ["qemu-7.2"], warning("\n", placed)).runBatch([{ spec: specOf(text), profile: "qemu-7.2" }], 1);
      expect(run).toMatchObject({ status: "crashed", reason: `the host kernel warned ${words}: ${report.report} in ${report.function}`, crash: { phase: placed } });
      expect(run!.expectations.map((e) => `${e.line} ${e.actual}`)).toEqual(["4 warned", "6 0x3", "7 warned"]);
    }
    // Without a WARN, at exit reads ok.
    const [quiet] = await new RealBackend("fake", ["qemu-7.2"], new FakeLauncher(KVM_TRAITS, () => ({ console: all }))).runBatch([{ spec: specOf(`${text}\nexpect host ok at exit`), profile: "qemu-7.2" }], 1);
    expect(quiet).toMatchObject({ status: "passed" });
  });
});

describe("progress of real machines", () => {
  it("each guest that ends is counted, up to the batch", async () => {
    class Counting extends FakeLauncher {
      override async launch(jobs: readonly GuestJob<undefined>[], _lanes?: number, finished?: () => void) {
        const results = await super.launch(jobs);
        for (const _ of jobs) finished?.();
        return results;
      }
    }
    const launcher = new Counting(TCG_TRAITS, () => ({ console: [line(0n, 0n), line(0n, 3n)].join("\n") }));
    const seen: string[] = [];
    const spec = putGet;
    const backend = new RealBackend("fake", ["qemu-7.2"], launcher);
    const done = await backend.runBatch([{ spec, profile: "qemu-7.2" }, { spec, profile: "qemu-7.2" }], 1, (n) => seen.push(String(n)));
    expect(done.map((r) => r.status)).toEqual(["passed", "passed"]);
    expect(seen).toEqual(["1", "2"]);
  });

  it("L1's console: a guest's end line counts once, wherever the chunks split it", async () => {
    const { guestEnds } = await import("../../src/backends/kvm/l1.js");
    let ended = 0;
    const count = guestEnds(() => ended++);
    let text = "";
    for (const chunk of ["boot\nTCESPEC-RUN 0 1\nTCESPEC-DO", "NE 0 0 2.5\nTCESPEC-RUN 1 3\n", "TCESPEC-DONE 1 ", "0 4\nTCESPEC-DONE 2 0 5\n"]) {
      const before = text.length;
      text += chunk;
      count(text, before);
    }
    expect(ended).toBe(3);
  });
});

describe("a new target is one launcher and one traits object", () => {
  it("its machine's answers are judged by the shared pipeline", async () => {
    const honest = new RealBackend("fake", ["qemu-7.2"], new FakeLauncher(TCG_TRAITS, () => ({ console: [line(0n, 0n), line(0n, 3n)].join("\n") })));
    const [right] = await honest.runBatch([{ spec: putGet, profile: "qemu-7.2" }], 1);
    expect(right).toMatchObject({ backend: "fake", status: "passed", expectations: [{ outcome: "matched", actual: "0x3" }] });
    const stale = new RealBackend("fake", ["qemu-7.2"], new FakeLauncher(TCG_TRAITS, () => ({ console: [line(0n, 0n), line(0n, 7n)].join("\n") })));
    const [wrong] = await stale.runBatch([{ spec: putGet, profile: "qemu-7.2" }], 1);
    expect(wrong).toMatchObject({ status: "diverged", expectations: [{ outcome: "diverged", actual: "0x7" }] });
  });

  it("the guest's program and its host steps reach the launcher; what the traits cannot run never does", async () => {
    const launcher = new FakeLauncher(KVM_TRAITS, (job) => ({ console: job.steps.map((_, k) => `TCESPEC-ACT ${k + 1} reset`).join("\n") }));
    const backend = new RealBackend("fake", ["qemu-7.2"], launcher);
    const [tcg, reset] = await backend.runBatch(
      [
        { spec: putGet, profile: "qemu-7.2" },
        { spec: specOf("machine kvm\nphb phb0 index 0\nreset"), profile: "qemu-7.2" },
      ],
      2,
    );
    expect(tcg).toMatchObject({ status: "unsupported", reason: expect.stringMatching(/^machine tcg/) });
    expect(reset!.status, reset!.reason).toBe("passed");
    expect(launcher.launched).toHaveLength(1);
    expect(launcher.launched[0]!.map((j) => j.steps)).toEqual([[{ kind: "reset" }]]);
    expect(launcher.launched[0]![0]!.elf.length).toBeGreaterThan(0);
  });

  it("what the launcher says went wrong is the run's error, in its words", async () => {
    const timeout = new RealBackend("fake", ["qemu-7.2"], new FakeLauncher(TCG_TRAITS, () => ({ error: "timed out after 5 ms (--timeout): the guest did not finish" })));
    expect((await timeout.run(putGet, "qemu-7.2")).reason).toBe("timed out after 5 ms (--timeout): the guest did not finish");
    const missing = new RealBackend("fake", ["qemu-7.2"], new FakeLauncher(TCG_TRAITS, () => ({ console: "" }), "qemu-system-ppc64 not found"));
    expect(await missing.run(putGet, "qemu-7.2")).toMatchObject({ status: "error", reason: "qemu-system-ppc64 not found" });
    const refused = new RealBackend(
      "fake",
      ["qemu-7.2"],
      new FakeLauncher(KVM_TRAITS, () => ({ console: "TCESPEC-ACT 1 failed: device_del d0: QEMU still lists the device 10 s later" })),
    );
    const unplug = specOf("machine kvm\nphb phb0 index 0\nplug emulated d0 on phb0\nunplug d0");
    expect((await refused.run(unplug, "qemu-7.2")).reason).toContain("device_del d0: QEMU still lists the device 10 s later");
    const short = new RealBackend("fake", ["qemu-7.2"], new FakeLauncher(TCG_TRAITS, () => ({ console: line(0n, 0n) })));
    expect((await short.run(putGet, "qemu-7.2")).reason).toBe("the guest printed 1 result lines, 2 were due");
  });

  it("the report names what judged, and the model is compared with it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tcespec-fake-"));
    writeFileSync(join(dir, "p.tce"), 'spec "put" {\n  machine tcg\n  phb phb0 index 0\n  put_tce phb0 0 0x3\n  expect get_tce phb0 0 == 0x3\n}\n');
    const fake = new RealBackend("fake", ["qemu-7.2"], new FakeLauncher(TCG_TRAITS, () => ({ console: [line(0n, 0n), line(0n, 5n)].join("\n") })));
    const report = await run([dir], { profiles: ["qemu-7.2"], backends: [new ModelBackend(), fake], jobs: 1 });
    expect(report.backends).toEqual([
      { name: "model", real: false },
      { name: "fake", real: true, identity: { qemu: "QEMU 7.2.99 (fake)" } },
    ]);
    expect(compare(report)[0]!.disagreements).toMatchObject([{ model: "0x3", actual: "0x5" }]);
  });
});

describe("what a probe saw beside its answer", () => {
  it("is the expectation's note, in every reporter's data", async () => {
    const { judge } = await import("../../src/backends/real/judge.js");
    const spec = specOf("machine kvm\nphb phb0 index 0\nplug vfio d0 on phb0\nexpect hw(phb0) in_sync");
    const plan = {
      args: [],
      steps: [
        { calls: [{ kind: "host" as const, action: "reset" as const }], read: () => ({ kind: "done" as const }) },
        { calls: [], read: () => ({ answer: "out_of_sync", note: "probed the 1 IOBA the spec wrote; 0x1000: 0x0, the guest view calls for 0x1003" }) },
      ],
    };
    const run = judge(spec, "qemu-7.2", plan, { lines: [], marks: [], host: [{ kind: "done" }] }, "fake");
    expect(typeof run === "object" && run.expectations[0]).toMatchObject({
      outcome: "diverged",
      actual: "out_of_sync",
      note: "probed the 1 IOBA the spec wrote; 0x1000: 0x0, the guest view calls for 0x1003",
    });
  });
});
