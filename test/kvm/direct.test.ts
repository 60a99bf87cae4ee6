// The kvm backend run directly on the host (as on a POWER machine with /dev/kvm): the same batch
// script as in L1, in a directory of its own. Off POWER it is exercised with the guests under TCG,
// which answers these hypercalls as KVM would; host steps (hotplug, DMA, reset, migration) and the
// natively built capability shim go the same way as on POWER.
import { describe, expect, it } from "vitest";
import { existsSync } from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KvmBackend } from "../../src/backends/kvm/backend.js";
import { liveQemuProcesses } from "../../src/backends/qemu/process.js";
import { hasCommand, specOf } from "../helpers.js";
import { release } from "node:os";

const QEMU = hasCommand("qemu-system-ppc64");

describe.runIf(QEMU)("the kvm backend, directly on the host", () => {
  it("runs a batch with host steps, and builds the capability shim with the host's compiler", async () => {
    const cacheRoot = mkdtempSync(join(tmpdir(), "tcespec-direct-"));
    const kvm = new KvmBackend({ direct: { accel: "tcg" }, cacheRoot, timeoutMs: 30_000 });
    expect(kvm.mode).toBe("direct");
    const steps = specOf(
      [
        "machine kvm caps spapr_tce, spapr_tce_64, spapr_tce_vfio, multi_tce",
        "phb phb0 index 0",
        "plug emulated e0 on phb0",
        "put_tce phb0 0x3000 0x45670003",
        "expect dma e0 read 0x3010 == 0x45670010",
        "migrate",
        "expect get_tce phb0 0x3000 == 0x45670003",
        "expect dma e0 read 0x3010 == 0x45670010",
        "reset",
        "expect get_tce phb0 0x3000 == 0",
      ].join("\n"),
    );
    const hidden = specOf("machine kvm caps spapr_tce\nphb phb0 index 0\nput_tce phb0 0x1000 0x3\nexpect get_tce phb0 0x1000 == 0x3");
    const vfio = specOf("machine kvm\nphb phb0 index 0\nplug vfio d0 on phb0");
    const [a, b, c] = await kvm.runBatch(
      [
        { spec: steps, profile: "qemu-7.2" },
        { spec: hidden, profile: "qemu-7.2" },
        { spec: vfio, profile: "qemu-7.2" },
      ],
      2,
    );
    expect(a!.reason).toBeUndefined();
    expect(a!.expectations.map((e) => `${e.outcome} ${e.actual}`)).toEqual([
      "matched 0x45670010",
      "matched 0x45670003",
      "matched 0x45670010",
      "matched 0x0",
    ]);
    expect(b!.status, b!.reason).toBe("passed");
    if (hasCommand("cc")) expect(existsSync(join(cacheRoot, "native"))).toBe(true);
    expect(c).toMatchObject({ status: "unsupported", reason: expect.stringContaining("TCESPEC_VFIO_HOST") });
    expect(liveQemuProcesses()).toBe(0);
    // What judged: this host's kernel and its QEMU, as they said in the batch.
    expect(kvm.identity()).toMatchObject({ kernel: release(), qemu: expect.stringMatching(/^QEMU 7\.2\.\d+/) });
  }, 120_000);
});
