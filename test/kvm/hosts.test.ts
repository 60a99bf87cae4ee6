// The machines L1 can be (--kvm-host), without booting one: what each lets a spec do, what its
// guests are told, how its initramfs is laid out, and what the command line says about them.
import { describe, expect, it } from "vitest";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterSpoilers, KvmLauncher } from "../../src/backends/kvm/backend.js";
import { FAST_L0, hasFastEdu, POWERNV, PSERIES, withIdleSkips, type L1Host } from "../../src/backends/kvm/hosts.js";
import { batchScript, IN_L1, runL1 } from "../../src/backends/kvm/l1.js";
import { initramfsToBoot, type L1Image } from "../../src/backends/kvm/image.js";
import { planFor } from "../../src/backends/real/planner.js";
import { main } from "../../src/cli.js";
import { specOf } from "../helpers.js";

const onHost = (host: "pseries" | "powernv") => new KvmLauncher({ host, direct: false });


/** An L1 image of nothing, for an L0 that is a shell script printing what L1 would (its folder to remove after). */
function fakeImage(name: string): { dir: string; image: L1Image } {
  const dir = mkdtempSync(join(tmpdir(), `tcespec-${name}-`));
  const image = { dir, vmlinux: join(dir, "vmlinux"), initramfs: join(dir, "initrd") } as L1Image;
  writeFileSync(image.initramfs, Buffer.alloc(4));
  writeFileSync(image.vmlinux, "");
  return { dir, image };
}

describe("a vfio-pci device's windows on each host", () => {
  const large = "machine kvm\nphb phb0 index 0\nplug vfio dev0 on phb0\ncreate_window phb0 page 64K size 256G";
  const atZero = "machine kvm\nphb phb0 index 0 dma32 2G\nplug vfio dev0 on phb0";

  it("pseries refuses more than 2^21 entries and a window at 0 other than its own; powernv takes both", () => {
    const pseries = onHost("pseries").traits;
    const powernv = onHost("powernv").traits;
    expect(planFor(specOf(large), "qemu-7.2", pseries)).toEqual({ unsupported: expect.stringMatching(/2097152 entries at most/) });
    expect(planFor(specOf(large), "qemu-7.2", powernv)).toHaveProperty("steps");
    expect(planFor(specOf(atZero), "qemu-7.2", pseries)).toEqual({ unsupported: expect.stringMatching(/at 0/) });
    expect(planFor(specOf(atZero), "qemu-7.2", powernv)).toHaveProperty("steps");
  });

  it("counts a window in the host's pages: QEMU backs 16M pages with L1's 64K ones (found by explore: a hardware error in QEMU 7.2)", () => {
    const pseries = onHost("pseries").traits;
    const powernv = onHost("powernv").traits;
    const huge = (size: string) => `machine kvm\nphb phb0 index 0\nplug vfio d7 on phb0\nexpect create_window phb0 page 16M size ${size} == 0x80000001`;
    // 1T of 16M pages: 65536 entries for the guest, 2^24 in L1's window.
    expect(planFor(specOf(huge("1T")), "qemu-7.2", pseries)).toEqual({
      unsupported: "line 4: create_window of 16777216 entries in the host's window (its 16M pages backed by 64K ones there) with a vfio-pci device on the PHB: the host kernel gives a vfio-pci device windows of 2097152 entries at most (one-level TCE tables)",
    });
    expect(planFor(specOf(huge("128G")), "qemu-7.2", pseries)).toHaveProperty("steps");
    expect(planFor(specOf(huge("1T")), "qemu-7.2", powernv)).toHaveProperty("steps");
    // The same window made before the plug: the plug is what cannot be given.
    const before = "machine kvm\nphb phb0 index 0\ncreate_window phb0 page 16M size 1T\nplug vfio d7 on phb0";
    expect(planFor(specOf(before), "qemu-7.2", pseries)).toEqual({ unsupported: expect.stringMatching(/^line 4: plug vfio on a PHB with a window of 16777216 entries in the host's window/) });
  });

  it("pseries gives one PHB two devices at most, of its one group (a third, of another group, had a notifier of its own); powernv any", () => {
    const three = "machine kvm\nphb phb0 index 0\nplug vfio d2 on phb0\nplug vfio d3 on phb0\nplug vfio d4 on phb0\nexpect notifiers(phb0) == 1";
    const spread = "machine kvm\nphb phb0 index 0\nphb phb1 index 1\nplug vfio d2 on phb0\nplug vfio d3 on phb0\nplug vfio d4 on phb1";
    expect(planFor(specOf(three), "qemu-7.2", onHost("pseries").traits)).toEqual({ unsupported: expect.stringMatching(/^line 5: plug vfio: a PHB here has 2 vfio-pci devices of one IOMMU group at most/) });
    expect(planFor(specOf(three), "qemu-7.2", onHost("powernv").traits)).toHaveProperty("steps");
    expect(planFor(specOf(spread), "qemu-7.2", onHost("pseries").traits)).toHaveProperty("steps");
  });

  it("both hosts hand out one device per IOMMU group listed, pseries two of one group", () => {
    expect(PSERIES.groups).toEqual([0, 0, 1]);
    expect(POWERNV.groups).toEqual([0, 1, 2]);
    expect(POWERNV.args.filter((a) => /^edu,bus=pcie\.\d$/.test(a))).toHaveLength(POWERNV.groups.length);
  });
});

describe("a guest whose host kernel writes past a TCE table", () => {
  // Seen in CI: on PowerNV, the guest after the library's stuff past the end (written silently past
  // the hardware table) found its host crashed in unrelated code (lookup_swap_cgroup_id).
  const pastEnd = "machine kvm caps spapr_tce, spapr_tce_vfio, multi_tce\nphb phb0 index 0\nplug vfio d0 on phb0\nexpect stuff_tce phb0 0x3fff_e000 0x0 4 == H_SUCCESS";
  const noHardware = "machine kvm\nphb phb0 index 0\nstuff_tce phb0 0x3fff_e000 0x0 4";
  const inside = "machine kvm caps spapr_tce, spapr_tce_vfio, multi_tce\nphb phb0 index 0\nplug vfio d0 on phb0\nstuff_tce phb0 0x3fff_e000 0x0 2";

  it("spoils its host: the plan says why, from the model of the run's own host and kernel", () => {
    const powernv = onHost("powernv").traits;
    const pseries = onHost("pseries").traits;
    expect(planFor(specOf(pastEnd), "qemu-7.2", powernv)).toMatchObject({
      spoilsHost: "the host kernel wrote past a TCE table (stuff_tce of 4 entries from 0x3fffe000 ran 2 past the end of a table of 262144)",
    });
    // Without a hardware table KVM takes the call too, and writes past its own table.
    for (const traits of [powernv, pseries]) expect(planFor(specOf(noHardware), "qemu-7.2", traits)).toHaveProperty("spoilsHost");
    // On pseries with a hardware table the call goes to QEMU (the hypervisor refuses the entry past the end).
    expect(planFor(specOf(pastEnd), "qemu-7.2", pseries)).not.toHaveProperty("spoilsHost");
    expect(planFor(specOf(inside), "qemu-7.2", powernv)).not.toHaveProperty("spoilsHost");
    // A kernel that checks the whole range refuses the call: nothing is written.
    const checked = new KvmLauncher({ host: "powernv", direct: false, kernelRules: "linux-6-checked" }).traits;
    expect(planFor(specOf(noHardware), "qemu-7.2", checked)).not.toHaveProperty("spoilsHost");
  });

  it("ends its L1: the guests after it run on a fresh one, each part its own machine", async () => {
    const job = (name: string, spoils = false) => ({ elf: new TextEncoder().encode(name), args: [], hideCaps: [], ...(spoils ? { spoilsHost: "why" } : {}) });
    const machines: string[][] = [];
    const run = async (batch: readonly { elf: Uint8Array }[]) => {
      machines.push(batch.map((j) => new TextDecoder().decode(j.elf)));
      return machines.length === 3 ? { error: "L1 did not boot" } : { results: batch.map((j) => ({ body: new TextDecoder().decode(j.elf) })) };
    };
    const answer = await afterSpoilers([job("a"), job("b", true), job("c", true), job("d"), job("e")], run);
    expect(machines).toEqual([["a", "b"], ["c"], ["d", "e"]]);
    // A part that failed fails its own guests only.
    expect(answer).toEqual({ results: [{ body: "a" }, { body: "b" }, { body: "c" }, { error: "L1 did not boot" }, { error: "L1 did not boot" }] });
    machines.length = 0;
    await afterSpoilers([job("a"), job("b")], run);
    expect(machines).toEqual([["a", "b"]]);
  });
});

describe("the explorer's machines", () => {
  it("get their host's own per-spec timeout once for each scenario they run (80 s on PowerNV was less than one spec's 60 s a scenario)", () => {
    expect(new KvmLauncher({ host: "powernv", direct: false, timeoutScale: 8 }).options.timeoutMs).toBe(8 * 60_000);
    expect(new KvmLauncher({ host: "pseries", direct: false, timeoutScale: 8 }).options.timeoutMs).toBe(8 * 20_000);
    expect(new KvmLauncher({ host: "powernv", direct: false, timeoutScale: 8, timeoutMs: 5000 }).options.timeoutMs).toBe(5000);
  });

  it("run on an L0 that skips L1's idle time, with L1's timeouts counted as on PowerNV (where L0 always does)", () => {
    const skipping = withIdleSkips(PSERIES);
    expect(skipping.args.join(" ")).toContain("-icount shift=auto,sleep=off");
    expect(PSERIES.args).not.toContain("-icount");
    expect(skipping).toMatchObject({ timeoutMs: POWERNV.timeoutMs, stepMs: POWERNV.stepMs, migrateSeconds: POWERNV.migrateSeconds });
    expect(withIdleSkips(POWERNV)).toBe(POWERNV);
    // An L0 without FAST_L0's edu (a binary that is not there has no such property).
    expect(new KvmLauncher({ host: "pseries", direct: false, timeoutScale: 8, idleSkips: true, binary: "/nonexistent/qemu" }).options.timeoutMs).toBe(8 * 60_000);
    // Where L0's edu ends its DMAs at once there is no wait to skip on pseries: the host stays as it is.
    const fast = { binary: "qemu-system-ppc64", args: [], eduDmaMs: 0 };
    expect(withIdleSkips(PSERIES, fast)).toBe(PSERIES);
    expect(withIdleSkips(PSERIES, { ...fast, eduDmaMs: 100 }).args).toContain("-icount");
    // The migration's limit in the batch follows the host's.
    const job = { elf: new Uint8Array(), args: ["-m", "512M"], hideCaps: [], steps: [{ kind: "migrate" as const }] };
    expect(batchScript([job], 20_000, { ...IN_L1, migrateSeconds: 60 })).toContain("QEMU did not complete it within 60 s");
    expect(batchScript([job], 20_000)).toContain("QEMU did not complete it within 20 s");
  });
});

describe("L0's edu devices", () => {
  /** A stand-in for qemu-system-ppc64 that lists edu's properties, with or without FAST_L0's. */
  const fakeL0 = (dir: string, name: string, fast: boolean) => {
    const path = join(dir, name);
    writeFileSync(path, `#!/bin/sh\necho "edu options:"\necho "  dma_mask=<uint64>"\n${fast ? 'echo "  x-dma-delay-ms=<uint64>"\n' : ""}`, { mode: 0o755 });
    return path;
  };

  it("end their DMAs at once on an L0 whose edu has the delay as a property (tcespec's build): L0 is told 0, and the guests wait for none", () => {
    const dir = mkdtempSync(join(tmpdir(), "tcespec-l0-"));
    try {
      const fast = fakeL0(dir, "fast", true);
      const stock = fakeL0(dir, "stock", false);
      expect(PSERIES.l0(fast)).toEqual({ binary: fast, args: ["-global", `edu.${FAST_L0.property}=0`], eduDmaMs: 0 });
      expect(PSERIES.l0(stock)).toEqual({ binary: stock, args: [] });
      expect(hasFastEdu(join(dir, "missing"))).toBe(false);
      // The planner gives the guest's vfio-pci devices L0's delay; an emulated device (L1's QEMU's edu, probed in guest memory too) keeps its own.
      const spec = specOf("machine kvm\nphb phb0 index 0\nput_tce phb0 0x1000 0x1003\nplug vfio d0 on phb0\nplug emulated e0 on phb0\nexpect hw(phb0, 0x1000) == 0x1003\nexpect dma e0 read 0x1000 == 0x1000");
      const devices = (binary: string) => {
        const plan = planFor(spec, "qemu-7.2", new KvmLauncher({ host: "pseries", direct: false, binary }).traits);
        return "steps" in plan ? plan.steps.flatMap((s) => s.calls.flatMap((c) => (c.kind === "plug" || c.kind === "vfio-dma" || c.kind === "dma" ? [`${c.kind} ${c.device.name} ${c.device.dmaMs}`] : []))) : plan.unsupported;
      };
      expect(devices(fast)).toEqual(["plug d0 0", "plug e0 undefined", "vfio-dma d0 0", "vfio-dma d0 0", "vfio-dma e0 undefined"]);
      expect(devices(stock)).toEqual(["plug d0 undefined", "plug e0 undefined", "vfio-dma d0 undefined", "vfio-dma d0 undefined", "vfio-dma e0 undefined"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the guests of a PowerNV host", () => {
  it("are told to ask KVM for no speculation mitigation the emulated firmware lacks; pseries' guests are not", () => {
    const job = { elf: new Uint8Array(), args: ["-m", "512M"], hideCaps: [] };
    expect(batchScript([job], 20_000, { ...IN_L1, guestMachine: POWERNV.guestMachine })).toContain("'-machine' 'cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off'");
    expect(batchScript([job], 20_000)).not.toContain("cap-cfpc");
  });
});

describe("L1's initramfs", () => {
  const dir = mkdtempSync(join(tmpdir(), "tcespec-hosts-"));
  // An image whose initramfs ends off a 4-byte boundary, as a compressed one may.
  const image = { dir, vmlinux: join(dir, "vmlinux"), initramfs: join(dir, "odd.gz") } as L1Image;
  writeFileSync(image.initramfs, Buffer.from("12345"));
  writeFileSync(image.vmlinux, "");
  // L0 here reports where the batch's archive starts in the initrd it was given, and stops.
  const reporter: L1Host = {
    ...POWERNV,
    args: [],
    l0: () => ({
      binary: "sh",
      args: ["-c", 'while [ "$1" != -initrd ]; do shift; done; echo "TCESPEC-L1-ERROR batch at $(grep -abo 070701 "$2" | head -1 | cut -d: -f1)"', "l0"],
    }),
  };

  it("puts the batch after a compressed image on a 4-byte boundary, where Linux looks for it", async () => {
    const result = await runL1(image, [], { host: reporter, timeoutMs: 1000, bootTimeoutMs: 10_000 });
    expect(result).toEqual({ error: "L1: batch at 8" });
  });

  it("is refused before L0 starts where it is more than the host loads, saying how much", async () => {
    const result = await runL1(image, [], { host: { ...reporter, initrdLimit: 16 }, timeoutMs: 1000, bootTimeoutMs: 10_000 });
    expect(result).toEqual({ error: expect.stringMatching(/^L1's initramfs with the batch is \d+ bytes: a PowerNV .* loads 16 at most/) });
    rmSync(dir, { recursive: true, force: true });
  });

  it("goes to L0 as it is where it fits with its overlays and room for a batch, compressed where not", async () => {
    const at = mkdtempSync(join(tmpdir(), "tcespec-boot-"));
    try {
      const plain = { dir: at, vmlinux: join(at, "vmlinux"), initramfs: join(at, "initramfs.cpio") } as L1Image;
      writeFileSync(plain.initramfs, Buffer.alloc(100 << 20));
      writeFileSync(join(at, "overlay.cpio"), Buffer.alloc(17 << 20));
      expect(await initramfsToBoot(plain, undefined, [join(at, "overlay.cpio")])).toBe(plain.initramfs);
      expect(await initramfsToBoot(plain, POWERNV.initrdLimit)).toBe(plain.initramfs);
      // 100 + 17 MiB and a batch's room are more than 128 MiB.
      const compressed = await initramfsToBoot(plain, POWERNV.initrdLimit, [join(at, "overlay.cpio")]);
      expect(compressed).toBe(`${plain.initramfs}.gz`);
      expect(gunzipSync(readFileSync(compressed)).equals(readFileSync(plain.initramfs))).toBe(true);
    } finally {
      rmSync(at, { recursive: true, force: true });
    }
  });
});

describe("--kvm-host", () => {
  const cli = async (...args: string[]) => {
    let out = "";
    let err = "";
    const code = await main(args, (s) => (out += s), (s) => (err += s));
    return { code, out, err };
  };

  it("takes pseries or powernv, and says so otherwise", async () => {
    const { code, err } = await cli("run", "specs/hotplug/real-vfio.tce", "--backend", "kvm", "--kvm-host", "bare");
    expect(code).toBe(2);
    expect(err).toMatch(/--kvm-host takes pseries or powernv, not 'bare'/);
  });

  it("on a POWER host, whose own KVM runs on bare metal, is powernv: pseries is refused, and the model beside plays PowerNV", async () => {
    expect(await new KvmLauncher({ host: "pseries", direct: { accel: "tcg" } }).problem()).toMatch(/--kvm-host pseries names the machine L1 is/);
    expect(await new KvmLauncher({ host: "powernv", direct: { accel: "tcg" } }).problem()).toBeUndefined();
    expect(new KvmLauncher({ direct: { accel: "tcg" } }).traits.host).toBe("powernv");
    expect(new KvmLauncher({ direct: false }).traits.host).toBe("pseries");
  });
});

describe("a large guest's time", () => {
  it("grows by 10 s for each GiB past 2 GiB, in the batch script and in what a timeout says", async () => {
    const { guestTimeoutMs } = await import("../../src/backends/kvm/l1.js");
    const { splitConsole } = await import("../../src/backends/real/console.js");
    const job = (ram: string) => ({ elf: new Uint8Array(), args: ["-m", ram], hideCaps: [] });
    expect(guestTimeoutMs(job("512M"), 60_000)).toBe(60_000);
    expect(guestTimeoutMs(job("2048M"), 60_000)).toBe(60_000);
    expect(guestTimeoutMs(job("8448M"), 60_000)).toBe(130_000);
    const script = batchScript([job("512M"), job("8448M")], 60_000);
    expect(script).toMatch(/timeout -s KILL 60 [^\n]*'512M'/);
    expect(script).toMatch(/timeout -s KILL 130 [^\n]*'8448M'/);
    const killed = "TCESPEC-RUN 0 1.0 0.0\nTCESPEC-DONE 0 137 2.0 0.0\nTCESPEC-RUN 1 1.0 0.0\nTCESPEC-DONE 1 137 2.0 0.0\n";
    expect(splitConsole(killed, 2, { timeoutMs: [60_000, 130_000] }).map((r) => ("error" in r ? r.error : ""))).toEqual([
      "timed out after 60000 ms (--timeout): the guest did not finish",
      "timed out after 130000 ms (--timeout): the guest did not finish",
    ]);
  });

  it("grows by the host's time for each host step (PowerNV's slot resets), in the batch script", async () => {
    const { guestTimeoutMs } = await import("../../src/backends/kvm/l1.js");
    const steps = Array.from({ length: 20 }, () => ({ kind: "reset" as const }));
    const job = { elf: new Uint8Array(), args: ["-m", "512M"], hideCaps: [], steps };
    expect(guestTimeoutMs(job, POWERNV.timeoutMs, POWERNV.stepMs)).toBe(60_000 + 20 * 6_000);
    expect(guestTimeoutMs({ ...job, steps: [] }, POWERNV.timeoutMs, POWERNV.stepMs)).toBe(60_000);
    expect(batchScript([job], POWERNV.timeoutMs, { ...IN_L1, stepMs: POWERNV.stepMs })).toMatch(/timeout -s KILL 180 /);
    expect(batchScript([job], POWERNV.timeoutMs)).toMatch(/timeout -s KILL 60 /);
  });
});

describe("a timeout in an L1 whose idle time L0 skips", () => {
  it("says whose time it counted: L1's on PowerNV (-icount sleep=off), the wall's on pseries", async () => {
    expect(POWERNV.args).toContain("-icount");
    expect(PSERIES.args).not.toContain("-icount");
    const { dir, image } = fakeImage("clock");
    const killed = ["TCESPEC-L1-READY 1.0 0.0", "TCESPEC-RUN 0 1.0 0.0", "TCESPEC-DONE 0 137 2.0 0.0", "TCESPEC-L1-DONE"].join("\\n");
    // L0 here prints a batch whose guest the per-spec timeout killed; the host's own L0 options stay.
    const as = (host: L1Host): L1Host => ({ ...host, l0: () => ({ binary: "sh", args: ["-c", `printf '${killed}\\n'`, "l0"] }) });
    const job = { elf: new Uint8Array(), args: ["-m", "512M"], hideCaps: [] };
    try {
      const words = async (host: L1Host) => {
        const done = await runL1(image, [job], { host: as(host), timeoutMs: 20_000, bootTimeoutMs: 10_000 });
        return "results" in done && "error" in done.results[0]! ? done.results[0].error : JSON.stringify(done);
      };
      expect(await words(POWERNV)).toBe("timed out after 20000 ms of L1's time (L0 skips the time L1 idles) (--timeout): the guest did not finish");
      expect(await words(PSERIES)).toBe("timed out after 20000 ms (--timeout): the guest did not finish");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("L1's kernel crashing", () => {
  it("is watched for after a WARN a moment before it: an oops in the next guest ends L1, not the batch's budget", async () => {
    const { dir, image } = fakeImage("watch");
    // Guest 0 WARNs as it ends; guest 1 oopses a moment later, within the grace the WARN is watched for.
    const warn = ["TCESPEC-RUN 0 1.0 0.0", "[   10.000000] WARNING: CPU: 0 PID: 1 at arch/powerpc/kvm/book3s_64_vio.c:1 kvmppc_clear_tce+0x0/0x10 [kvm]"].join("\\n");
    const next = ["TCESPEC-DONE 0 0 2.0 0.0", "TCESPEC-RUN 1 2.0 0.0"].join("\\n");
    const oops = ["[   12.000000] BUG: Unable to handle kernel data access at 0xc0ffee", "[   12.000001] NIP [c00800000012345c] kvmppc_tce_put+0x5c/0xa0 [kvm]"].join("\\n");
    // L1 hangs after the oops, as the guest's QEMU does, dead in the kernel.
    const script = `printf 'TCESPEC-L1-READY 1.0 0.0\\n'; sleep 0.3; printf '${warn}\\n'; sleep 0.5; printf '${next}\\n'; sleep 0.5; printf '${oops}\\n'; sleep 60`;
    const host: L1Host = { ...POWERNV, args: [], l0: () => ({ binary: "sh", args: ["-c", script, "l0"] }) };
    const job = { elf: new Uint8Array(), args: ["-m", "512M"], hideCaps: [] };
    try {
      const result = await runL1(image, [job, job, job], { host, timeoutMs: 1_000, bootTimeoutMs: 10_000 });
      if (!("results" in result)) throw new Error(result.error);
      expect(result.results[1]).toMatchObject({ crash: { software: "host kernel", function: "kvmppc_tce_put+0x5c/0xa0" } });
      // The guest after it was not run because L1's kernel crashed (not because the batch ran out of its time).
      expect(result.results[2]).toMatchObject({ error: expect.stringMatching(/L1's kernel crashed/) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe("an L1 handed its guests one at a time", () => {
  it("gets each as it asks, and is told to stop once the host kernel crashed under the last: the rest are left for another L1", async () => {
    const { dir, image } = fakeImage("handout");
    // A stand-in for L0 and L1: asks as the batch script does, and runs what it is handed; guest 1 oopses and ends.
    const guest = (oops: string) =>
      `echo "TCESPEC-RUN $g 1.0 0.0"; echo TCESPEC-BEGIN; echo TCESPEC-END; ${oops}echo "TCESPEC-DONE $g 0 2.0 0.0"`;
    const script = [
      "echo 'TCESPEC-L1-READY 1.0 0.0'",
      `while :; do echo TCESPEC-NEXT; read -r g; echo "handed $g"; [ "$g" = end ] && break; if [ "$g" = 1 ]; then ${guest("echo '[ 3.0] BUG: Unable to handle kernel data access at 0xc0ffee'; ")}; else ${guest("")}; fi; done`,
      "echo TCESPEC-L1-DONE",
    ].join("\n");
    const host: L1Host = { ...PSERIES, args: [], l0: () => ({ binary: "sh", args: ["-c", script, "l0"] }) };
    const job = { elf: new Uint8Array(), args: ["-m", "512M"], hideCaps: [] };
    const order = [0, 1, 2];
    const handed: number[] = [];
    try {
      const result = await runL1(image, [job, job, job], {
        host,
        timeoutMs: 5_000,
        bootTimeoutMs: 10_000,
        handOut: () => {
          const next = order.shift();
          if (next !== undefined) handed.push(next);
          return next;
        },
      });
      if (!("results" in result)) throw new Error(result.error);
      // Guest 1 crashed the kernel: L1 was told to stop, and guest 2 was never taken from the queue.
      expect(handed).toEqual([0, 1]);
      expect(result.results[0]).toMatchObject({ body: expect.stringContaining("TCESPEC-BEGIN") });
      expect(result.results[1]).toMatchObject({ crash: { software: "host kernel" } });
      expect(result.results[2]).toMatchObject({ notRun: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe("L1 out of memory", () => {
  it("is an error of tcespec's sizing, not the host kernel's crash, for the guest it hit and those after", async () => {
    const { dir, image } = fakeImage("oom");
    const console = (oom: boolean) =>
      [
        "TCESPEC-L1-READY 1.0 0.0",
        "TCESPEC-RUN 0 1.0 0.0",
        ...(oom ? ["[  150.2] Out of memory: Killed process 953 (qemu-system-ppc) total-vm:9133184kB"] : []),
        "[  151.0] Kernel panic - not syncing: System is deadlocked on memory",
      ].join("\\n");
    const host = (oom: boolean): L1Host => ({ ...POWERNV, args: [], l0: () => ({ binary: "sh", args: ["-c", `printf '${console(oom)}\\n'; sleep 5`, "l0"] }) });
    const job = { elf: new Uint8Array(), args: ["-m", "8448M"], hideCaps: [] };
    try {
      const oom = await runL1(image, [job, job], { host: host(true), timeoutMs: 1000, bootTimeoutMs: 10_000 });
      expect("results" in oom && oom.results.map((r) => ("error" in r ? r.error : "crash" in r ? "crash" : "body"))).toEqual([
        "L1 ran out of memory (it had 11264 MiB, tcespec's choice for this batch; its OOM killer took qemu-system-ppc): not a verdict",
        expect.stringMatching(/^not run: /),
      ]);
      // A guest that failed before the OOM killer struck keeps its own words.
      const before = ["TCESPEC-L1-READY 1.0 0.0", "TCESPEC-RUN 0 1.0 0.0", "TCESPEC-DONE 0 137 2.0 0.0", "TCESPEC-RUN 1 2.0 0.0", "[  150.2] Out of memory: Killed process 953 (qemu-system-ppc)", "[  151.0] Kernel panic - not syncing: oom"].join("\\n");
      const host2: L1Host = { ...POWERNV, args: [], l0: () => ({ binary: "sh", args: ["-c", `printf '${before}\\n'; sleep 5`, "l0"] }) };
      const later = await runL1(image, [job, job], { host: host2, timeoutMs: 1000, bootTimeoutMs: 10_000 });
      expect("results" in later && later.results.map((r) => ("error" in r ? r.error : "?"))).toEqual([
        expect.stringMatching(/^timed out after 71000 ms/),
        expect.stringMatching(/^L1 ran out of memory/),
      ]);
      // The same panic without the OOM killer's line stays the host kernel's crash.
      const panic = await runL1(image, [job], { host: host(false), timeoutMs: 1000, bootTimeoutMs: 10_000 });
      expect("results" in panic && "crash" in panic.results[0]! && panic.results[0].crash.software).toBe("host kernel");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
