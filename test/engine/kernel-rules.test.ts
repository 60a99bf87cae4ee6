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
