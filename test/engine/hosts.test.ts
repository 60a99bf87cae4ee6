// The host is a dimension of the model, as the kernel is: a pseries host (KVM-HV nested, the kvm
// backend's default L1) and a PowerNV one (bare metal) differ in their IOMMU. --kvm-host makes
// the model play one; `when host` says which an expectation belongs to.
import { describe, expect, it } from "vitest";
import { ModelBackend } from "../../src/backends/model.js";
import { run } from "../../src/run/runner.js";
import { KERNEL_RULES_NAMES } from "../../src/engine/kvm.js";
import { HOST_NAMES } from "../../src/engine/host.js";
import { compileSource } from "../../src/compile/index.js";
import { specOf } from "../helpers.js";

const HEAD = "machine kvm caps spapr_tce, multi_tce\nphb phb0 index 0\n";
/** What one observation reads on the model, on a host. */
const read = async (host: "pseries" | "powernv", body: string, probe: string) => {
  const spec = specOf(`${HEAD}${body}\nexpect ${probe} == 0x1`);
  const result = await new ModelBackend(false, undefined, host).run(spec, "qemu-7.2");
  return result.expectations.at(-1)!.actual;
};

describe("the hosts' IOMMUs, on the model", () => {
  it("PowerNV adds read to a write-only entry KVM maps; pseries keeps its direction", async () => {
    const body = "machine kvm caps spapr_tce, spapr_tce_64, multi_tce, spapr_tce_vfio\nphb phb0 index 0\nplug vfio d0 on phb0\nput_tce phb0 0x4000 0x4002";
    const spec = (host: "pseries" | "powernv") => new ModelBackend(false, undefined, host).run(specOf(`${body}\nexpect hw(phb0, 0x4000) == 0x4002`), "qemu-7.2");
    expect((await spec("pseries")).expectations[0]!.actual).toBe("0x4002");
    expect((await spec("powernv")).expectations[0]!.actual).toBe("0x4003");
  });

  it("PowerNV lets KVM write past a window's end with a hardware table: success, no WARN; pseries fails it in the hypervisor", async () => {
    const body = "machine kvm caps spapr_tce, spapr_tce_64, multi_tce, spapr_tce_vfio\nphb phb0 index 0\nplug vfio d0 on phb0\nput_tce phb0 0x3fff_f000 0x1003";
    const past = (host: "pseries" | "powernv") =>
      new ModelBackend(false, undefined, host).run(specOf(`${body}\nexpect stuff_tce phb0 0x3fff_f000 0x0 2 == H_SUCCESS\nexpect host ok`), "qemu-7.2");
    expect((await past("pseries")).expectations.map((e) => e.actual)).toEqual(["H_PARAMETER", "warned"]);
    expect((await past("powernv")).expectations.map((e) => e.actual)).toEqual(["H_SUCCESS", "ok"]);
  });

  it("on PowerNV a device's unplug clears the table the device left on the PHB still uses; on pseries it stays", async () => {
    const body = "put_tce phb0 0x1000 0x1003\nplug vfio a on phb0\nplug vfio b on phb0\nunplug a";
    expect(await read("pseries", body, "hw(phb0, 0x1000)")).toBe("0x1003");
    expect(await read("powernv", body, "hw(phb0, 0x1000)")).toBe("0x0");
    // The last device's unplug removes the table on both.
    expect(await read("powernv", `${body}\nunplug b`, "hw(phb0, 0x1000)")).toBe("absent");
  });

  it("on PowerNV a vfio-pci device's DMA past a window's end wraps round into the table its bit 59 picks; on pseries and for an emulated device it faults", async () => {
    const body = "put_tce phb0 0x1000 0x1003\nplug vfio d on phb0\nplug emulated e on phb0\ncreate_window phb0 page 64K size 1G\nput_tce phb0[1] 0x800_0000_0001_0000 0x7000_0003";
    expect(await read("pseries", body, "dma d read 0x4000_1010")).toBe("fault");
    expect(await read("powernv", body, "dma d read 0x4000_1010")).toBe("0x1010");
    expect(await read("powernv", body, "dma d read 0x7_c000_1010")).toBe("0x1010");
    expect(await read("powernv", body, "dma e read 0x4000_1010")).toBe("fault");
    // Past the 64-bit window: its own table, modulo its entries.
    expect(await read("powernv", body, "dma d write 0x800_0000_4001_0020")).toBe("0x70000020");
    // Without the default window nothing below 2^59 is translated.
    expect(await read("powernv", `${body}\nremove_window phb0`, "dma d read 0x4000_1010")).toBe("fault");
  });

  it("a migrated machine stays on its host and keeps its kernel's rules", async () => {
    const body = "machine kvm caps spapr_tce, spapr_tce_64, multi_tce, spapr_tce_vfio\nphb phb0 index 0\nmigrate\nplug vfio d0 on phb0\nput_tce phb0 0x4000 0x4002";
    const after = await new ModelBackend(false, undefined, "powernv").run(specOf(`${body}\nexpect hw(phb0, 0x4000) == 0x4003`), "qemu-7.2");
    expect(after.status).toBe("passed");
    const checked = await new ModelBackend(false, "linux-6-checked").run(specOf(`${HEAD}migrate\nexpect stuff_tce phb0 0x3fff_f000 0x0 2 == H_PARAMETER`), "qemu-7.2");
    expect(checked.status).toBe("passed");
  });
});

describe("when host", () => {
  const check = (text: string) => compileSource("h.tce", text).diagnostics.map((d) => `${d.line}:${d.column} ${d.message}`);
  const LINE = "  expect hw(phb0, 0x1000) == 0x0";

  it("names a host the model knows, once per expectation, beside 'when profile' and 'when kernel'", () => {
    expect(check(`${HEAD}${LINE} when profile qemu-7.2 when kernel linux-6 when host powernv\n`)).toEqual([]);
    expect(check(`${HEAD}${LINE} when host bare-metal\n`)).toEqual([expect.stringMatching(/^3:\d+ unknown host 'bare-metal'/)]);
    expect(check(`${HEAD}${LINE} when host pseries when host powernv\n`)).toEqual([expect.stringMatching(/^3:\d+ an expectation takes one 'when host' clause/)]);
    // `host` stays a word: a PHB may be named so.
    expect(check("machine kvm\nphb host index 0\nexpect windows(host) == 1\n")).toEqual([]);
  });

  it("the library holds on both hosts under every kernel's rules, and each host skips the other's facts", async () => {
    for (const host of HOST_NAMES)
      for (const model of [new ModelBackend(false, undefined, host), ...KERNEL_RULES_NAMES.map((k) => new ModelBackend(false, k, host))]) {
        const report = await run(["specs"], { backends: [model], jobs: 1 });
        expect(report.runs.filter((r) => r.status !== "passed").map((r) => `${host} ${model.kernelRules ?? ""}: ${r.file}: ${r.spec} (${r.profile})`)).toEqual([]);
      }
    const checked = async (host: "pseries" | "powernv") =>
      (await run(["specs/hotplug/shared-container.tce"], { backends: [new ModelBackend(false, undefined, host)], profiles: ["qemu-7.2"], jobs: 1 })).runs
        .flatMap((r) => r.expectations)
        .filter((e) => e.outcome !== "skipped")
        .map((e) => e.source);
    expect(await checked("powernv")).toContain("expect hw(phb0) out_of_sync when profile seed-v10, qemu-2.7, qemu-7.2, qemu-10.0 when host powernv");
    expect(await checked("pseries")).not.toContain("expect hw(phb0) out_of_sync when profile seed-v10, qemu-2.7, qemu-7.2, qemu-10.0 when host powernv");
  });

  it("--kvm-host makes the model play a host, and refuses others in one line", async () => {
    const { main } = await import("../../src/cli.js");
    let err = "";
    const write = () => {};
    expect(await main(["run", "specs/hotplug/shared-container.tce", "--kvm-host", "powernv"], write, (s) => (err += s))).toBe(0);
    expect(await main(["run", "specs/hotplug/shared-container.tce", "--kvm-host", "zseries"], write, (s) => (err += s))).toBe(2);
    expect(err).toMatch(/--kvm-host takes pseries or powernv, not 'zseries'/);
  });
});
