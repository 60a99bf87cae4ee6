// The host kernel is a dimension of the model: Linux 6.x as released checks the first entry of
// H_STUFF_TCE and H_PUT_TCE_INDIRECT only, a kernel with patches/linux-0001-…patch the whole
// range. --kernel-rules (or a kernel build's rules) makes the model play one for every profile.
import { describe, expect, it } from "vitest";
import { ModelBackend } from "../../src/backends/model.js";
import { run } from "../../src/run/runner.js";
import { main } from "../../src/cli.js";
import { KERNEL_RULES_NAMES } from "../../src/engine/kvm.js";

const statuses = async (file: string, model: ModelBackend) =>
  (await run([file], { backends: [model], profiles: ["qemu-7.2"], jobs: 1 })).runs.map((r) => `${r.spec}: ${r.status}`);

describe("the host kernel's rules", () => {
  it("the fixed kernel's spec matches the model playing linux-6-checked, and diverges under 6.x as released", async () => {
    expect(await statuses("patches/kvm-stuff-past-end-fixed.tce", new ModelBackend(false, "linux-6-checked"))).toEqual([
      "the stuff past the end: passed",
      "a list past the end: passed",
      "a stuff inside the window still works: passed",
    ]);
    expect(await statuses("patches/kvm-stuff-past-end-fixed.tce", new ModelBackend(false))).toEqual([
      "the stuff past the end: diverged",
      "a list past the end: diverged",
      "a stuff inside the window still works: passed",
    ]);
  });

  it("where a kernel WARNs: a hypercall past the end with a hardware table (6.x as released), a vfio group leaving KVM without a table (6.x)", async () => {
    const host = async (text: string, rules?: "linux-4" | "linux-6" | "linux-6-checked", profile: "qemu-7.2" | "qemu-2.7" = "qemu-7.2") => {
      const { specOf } = await import("../helpers.js");
      const model = new ModelBackend(false, rules);
      const result = await model.run(specOf(text), profile);
      return result.expectations.filter((e) => e.source?.startsWith("expect host")).map((e) => e.actual).join(" ");
    };
    const past = "machine kvm caps spapr_tce, spapr_tce_64, multi_tce, spapr_tce_vfio\nphb phb0 index 0\nplug vfio d0 on phb0\nexpect host ok\nstuff_tce phb0 0x3fff_e000 0 4\nexpect host ok\nexpect host ok at exit";
    expect(await host(past)).toBe("ok warned warned");
    expect(await host(past, "linux-6-checked")).toBe("ok ok ok");
    expect(await host(past, "linux-4")).toBe("ok ok ok");
    // Without spapr_tce_vfio QEMU never gives the group a table: its unplug WARNs, or QEMU's exit does.
    const unplug = "machine kvm caps spapr_tce, multi_tce\nphb phb0 index 0\nplug vfio d0 on phb0\nexpect host ok\nexpect host ok at exit\n";
    expect(await host(unplug)).toBe("ok warned");
    expect(await host(unplug.replace("expect host ok at exit", "unplug d0\nexpect host ok"))).toBe("ok warned");
    expect(await host(unplug.replace("expect host ok at exit", "unplug d0\nexpect host ok"), "linux-6-checked")).toBe("ok warned");
    expect(await host(unplug, "linux-4")).toBe("ok ok");
    // With it the group has its table; an older QEMU (qemu-2.7) never gives one, whatever the host offers.
    const attached = unplug.replace("multi_tce", "multi_tce, spapr_tce_vfio");
    expect(await host(attached)).toBe("ok ok");
    expect(await host(attached, "linux-6", "qemu-2.7")).toBe("ok warned");
    // An emulated device, or TCG, has no group in KVM.
    expect(await host(unplug.replace("plug vfio", "plug emulated"))).toBe("ok ok");
    expect(await host(unplug.replace("machine kvm caps spapr_tce, multi_tce", "machine tcg"))).toBe("ok ok");
  });

  it("a list's entry of no permission stays counted as mapped in the hardware table: QEMU's exit WARNs (found by explore on PowerNV)", async () => {
    const { specOf } = await import("../helpers.js");
    const exit = async (body: string, rules?: "linux-4" | "linux-6" | "linux-6-checked") => {
      const text = `machine kvm caps spapr_tce, spapr_tce_64, multi_tce, spapr_tce_vfio\nphb phb0 index 0\nplug vfio d0 on phb0\n${body}\nexpect host ok\nexpect host ok at exit`;
      return (await new ModelBackend(false, rules).run(specOf(text), "qemu-7.2")).expectations.filter((e) => e.source?.startsWith("expect host")).map((e) => e.actual).join(" ");
    };
    expect(await exit("put_tce_indirect phb0 0x0 [0x0]")).toBe("ok warned");
    expect(await exit("put_tce_indirect phb0 0x0 [0x0]", "linux-6-checked")).toBe("ok warned");
    expect(await exit("put_tce_indirect phb0 0x0 [0x12340000, 0x3003]")).toBe("ok warned");
    // A mapping over it and a clear do not uncount it; H_PUT_TCE and H_STUFF_TCE of no permission unmap.
    expect(await exit("put_tce_indirect phb0 0x0 [0x0]\nput_tce phb0 0x0 0x1003\nput_tce phb0 0x0 0x0")).toBe("ok warned");
    expect(await exit("put_tce phb0 0x0 0x0\nstuff_tce phb0 0x0 0x0 4\nput_tce_indirect phb0 0x0 [0x1003, 0x2003]")).toBe("ok ok");
    // After the unplug the mm's teardown WARNs at exit all the same.
    expect(await exit("put_tce_indirect phb0 0x0 [0x0]\nunplug d0")).toBe("ok warned");
  });

  it("the worker threads' recipe carries the rules", () => {
    expect(new ModelBackend(false, "linux-6-checked").recipe).toEqual({ name: "model", options: { bail: false, kernelRules: "linux-6-checked" } });
    expect(new ModelBackend(false).recipe).toEqual({ name: "model", options: { bail: false } });
  });

  it("--kernel-rules takes the names the model knows, and refuses others in one line", async () => {
    expect(KERNEL_RULES_NAMES).toEqual(["linux-4", "linux-6", "linux-6-checked"]);
    let err = "";
    const code = await main(["run", "specs/hcalls", "--kernel-rules", "linux-7"], () => {}, (t) => (err += t));
    expect(code).toBe(2);
    expect(err).toMatch(/--kernel-rules takes linux-4, linux-6, linux-6-checked, not 'linux-7'/);
    let out = "";
    expect(await main(["run", "patches/kvm-stuff-past-end-fixed.tce", "--kernel-rules", "linux-6-checked", "--profile", "qemu-7.2", "--reporter", "json"], (t) => (out += t), () => {})).toBe(0);
    expect(JSON.parse(out).summary).toMatchObject({ passed: 3, diverged: 0 });
  });
});

describe("when kernel", () => {
  const check = async (text: string) => {
    const { compileSource } = await import("../../src/compile/index.js");
    return compileSource("k.tce", text).diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);
  };
  const HEAD = 'setup {\n  machine kvm caps spapr_tce, multi_tce\n}\nspec "s" {\n';

  it("names kernel rules the model knows, once per expectation, beside a 'when profile'", async () => {
    expect(await check(`${HEAD}  expect stuff_tce phb0 0x0 0x0 1 == H_SUCCESS when kernel linux-6, linux-6-checked when profile qemu-7.2\n}\n`)).toEqual([]);
    expect(await check(`${HEAD}  expect stuff_tce phb0 0x0 0x0 1 == H_SUCCESS when kernel linux-7\n}\n`)).toEqual([expect.stringMatching(/^5:60 unknown kernel 'linux-7'/)]);
    expect(await check(`${HEAD}  expect stuff_tce phb0 0x0 0x0 1 == H_SUCCESS when kernel linux-6 when kernel linux-4\n}\n`)).toEqual([
      expect.stringMatching(/^5:\d+ an expectation takes one 'when kernel' clause/),
    ]);
  });

  it("the library holds under each profile's own kernel and under every kernel's rules for every profile: a kernel's facts say `when kernel`", async () => {
    for (const model of [new ModelBackend(false), ...KERNEL_RULES_NAMES.map((k) => new ModelBackend(false, k))]) {
      const report = await run(["specs"], { backends: [model], jobs: 1 });
      expect(report.runs.filter((r) => r.status !== "passed").map((r) => `${r.file}: ${r.spec} (${r.profile})`)).toEqual([]);
    }
    // …and the expectations that belong to one kernel were checked under it only.
    const skipped = async (model: ModelBackend) =>
      (await run(["specs/hcalls/kvm-linux-6.tce"], { backends: [model], profiles: ["qemu-7.2"], jobs: 1 })).runs.flatMap((r) => r.expectations).filter((e) => e.outcome === "skipped").length;
    expect(await skipped(new ModelBackend(false))).toBeGreaterThan(0);
    expect(await skipped(new ModelBackend(false, "linux-6-checked"))).toBeGreaterThan(0);
    expect(await skipped(new ModelBackend(false))).not.toBe(await skipped(new ModelBackend(false, "linux-6-checked")));
  });
});
