// The vfio-pci DMA probe's host side: where a DMA may land, the guest RAM that takes, the scratch
// entry, and how a probe's result line reads. The guest side runs in test/kvm/kvm.test.ts.
import { describe, expect, it } from "vitest";
import { entryFrom, MAX_GUEST_RAM, VfioProbes } from "../../src/backends/guest/vfio-probe.js";
import { DEFAULT_GUEST_RAM } from "../../src/engine/types.js";
import { VFIO_PROBE, type EduDevice, type GuestCall } from "../../src/backends/guest/guest.js";
import { planFor } from "../../src/backends/real/planner.js";
import { KVM_TRAITS } from "../../src/backends/kvm/backend.js";
import { TCG_TRAITS } from "../../src/backends/qemu/backend.js";
import { eduOptions } from "../../src/backends/qemu/process.js";
import { DEFAULT_DMA32, liobnOf, type PhbConfig } from "../../src/engine/types.js";
import { specOf } from "../helpers.js";

const PHB0: PhbConfig = { name: "phb0", index: 0, dma32: DEFAULT_DMA32, pageShift: 12, ddw: true };
const DEV: EduDevice = { name: "dev0", phbIndex: 0, slot: 1, vfio: true };
const L0 = liobnOf(0, 0);

function probesWith(...tces: [bigint, bigint][]): VfioProbes {
  const probes = new VfioProbes(new Map([[0, PHB0]]));
  for (const [ioba, tce] of tces) probes.note({ kind: "put_tce", liobn: L0, ioba, tce });
  return probes;
}

const candidatesOf = (call: GuestCall) => (call.kind === "vfio-dma" ? call.candidates : []);


/** A spec's planned steps on a target under qemu-7.2; a test fails with the reason where it is unsupported. */
function stepsOf(spec: Parameters<typeof planFor>[0], traits: Parameters<typeof planFor>[2]) {
  const plan = planFor(spec, "qemu-7.2", traits);
  if (!("steps" in plan)) throw new Error(plan.unsupported);
  return plan.steps;
}

describe("a vfio-pci DMA probe", () => {
  it("may land at each TCE's page plus the IOBA's offset, and nowhere else", () => {
    const probes = probesWith([0x1000n, 0x1234_0003n], [0x2000n, 0x555_0001n]);
    const call = probes.probe(DEV, "read", 0x1010n);
    expect(probes.finish(DEFAULT_GUEST_RAM)).toEqual({ ram: DEFAULT_GUEST_RAM });
    expect(candidatesOf(call)).toEqual([0x1234_0010n, 0x555_0010n]);
  });

  it("asks for more guest RAM where a candidate lies above it, and is unsupported past what a guest here has", () => {
    const probes = probesWith([0n, 0x3000_0003n]);
    const call = probes.probe(DEV, "write", 0x80n);
    expect(probes.finish(DEFAULT_GUEST_RAM)).toEqual({ ram: 0x4000_0000n });
    expect(candidatesOf(call)).toEqual([0x3000_0080n]);
    const far = probesWith([0n, 0x3000_0003n], [0x1000n, 0x7_0000_0003n]);
    far.probe(DEV, "write", 0x80n);
    expect(far.finish(DEFAULT_GUEST_RAM, MAX_GUEST_RAM)).toEqual({ unsupported: expect.stringMatching(/points past the most guest RAM/) });
    // Where the target has no limit (a POWER host's RAM is its own), the probe asks for the RAM.
    expect("ram" in far.finish(DEFAULT_GUEST_RAM)).toBe(true);
  });

  it("refuses a TCE into the guest's own image, which the probe would overwrite", () => {
    const probes = probesWith([0n, 0x40_1003n]);
    probes.probe(DEV, "read", 0n);
    expect(probes.finish(DEFAULT_GUEST_RAM)).toEqual({ unsupported: expect.stringMatching(/guest's own image/) });
  });

  it("puts its scratch entry on the highest page of the default window the spec leaves alone", () => {
    const top = DEFAULT_DMA32 - 0x1000n;
    const probes = probesWith([top, 0x1003n]);
    const call = probes.probe(DEV, "read", top - 0x1000n);
    probes.finish(DEFAULT_GUEST_RAM);
    expect(call.kind === "vfio-dma" && call.scratch).toEqual({ liobn: L0, ioba: top - 0x2000n });
  });

  it("tries a 64-bit window's own page size first", () => {
    const probes = new VfioProbes(new Map([[0, PHB0]]));
    probes.note({ kind: "create_window", phbIndex: 0, pageSize: 0x10000n, windowSize: 1n << 30n });
    probes.note({ kind: "put_tce", liobn: liobnOf(0, 1), ioba: 0x800_0000_0000_0000n, tce: 0x123_4003n });
    const call = probes.probe(DEV, "read", 0x800_0000_0000_5000n);
    probes.finish(DEFAULT_GUEST_RAM);
    // 64 KiB pages: 0x1230000 + 0x5000; 4 KiB pages: 0x1234000 + 0.
    expect(candidatesOf(call)).toEqual([0x123_5000n, 0x123_4000n]);
  });

  it("reads a read probe's byte as the candidate it tags, a fault, or a failed probe", () => {
    const probes = probesWith([0x1000n, 0x1234_0003n], [0x2000n, 0x555_0001n]);
    const call = probes.probe(DEV, "read", 0x1000n);
    probes.finish(DEFAULT_GUEST_RAM);
    expect(probes.landing(call, { probe: [BigInt(VFIO_PROBE.tag + 1), 0n] })).toEqual({ address: 0x555_0000n, page: 0x555_0000n });
    expect(probes.landing(call, { probe: [BigInt(VFIO_PROBE.preload), 0n] })).toEqual({});
    expect(probes.landing(call, { probe: [0n, 0n] })).toEqual({});
    // The buffer never came back: the hardware table lacks the scratch entry, an observation, not a crash.
    expect(probes.landing(call, { probe: [BigInt(VFIO_PROBE.sentinel), 0n] })).toEqual({
      unseen: expect.stringMatching(/did not come back: the hardware table lacks the probe's own entry at 0x[0-9a-f]+, which the guest view holds$/),
      lost: true,
    });
    expect(probes.landing(call, { probe: [0x99n, 0n] })).toEqual({ unseen: "the device read 0x99, from none of the spec's pages" });
  });

  it("reads a write probe's mask as the one candidate that changed, and checks the buffer it wrote", () => {
    const probes = probesWith([0x1000n, 0x1234_0003n], [0x2000n, 0x555_0003n]);
    const call = probes.probe(DEV, "write", 0x1004n);
    probes.finish(DEFAULT_GUEST_RAM);
    const preload = BigInt(VFIO_PROBE.preload);
    expect(probes.landing(call, { probe: [0b01n, preload] })).toEqual({ address: 0x1234_0004n, page: 0x1234_0000n });
    expect(probes.landing(call, { probe: [0n, preload] })).toEqual({});
    expect(probes.landing(call, { probe: [0b11n, preload] })).toEqual({ unseen: "the byte landed at 2 of the spec's pages" });
    // Without the scratch entry the write is still seen in the candidates; the missing entry is said apart.
    expect(probes.landing(call, { probe: [0b01n, BigInt(VFIO_PROBE.sentinel)] })).toEqual({ address: 0x1234_0004n, page: 0x1234_0000n });
    expect(probes.scratchMissed(call, { probe: [0b01n, BigInt(VFIO_PROBE.sentinel)] })).toMatch(/lacks the probe's own entry/);
    expect(probes.scratchMissed(call, { probe: [0b01n, preload] })).toBeUndefined();
  });

  it("makes a hardware entry of where reads and writes land", () => {
    expect(entryFrom({ address: 0x5000n, page: 0x5000n }, {})).toBe(0x5001n);
    expect(entryFrom({}, { address: 0x5004n, page: 0x5000n })).toBe(0x5002n);
    expect(entryFrom({ page: 0x5000n }, { page: 0x5000n })).toBe(0x5003n);
    expect(entryFrom({}, {})).toBe(0n);
    expect(entryFrom({ page: 0x5000n }, { page: 0x6000n })).toMatch(/reads land in 0x5000, writes in 0x6000/);
  });
});

describe("DMA on the kvm backend", () => {
  const spec = specOf(`machine kvm caps spapr_tce, multi_tce
phb phb0 index 0
plug emulated net0 on phb0
put_tce phb0 0x0 0x20000000 rw
expect dma net0 write 0x80 == 0x20000080
expect hw(phb0) absent
plug vfio dev0 on phb0
expect hw(phb0, 0x0) == 0x20000003
expect hw(phb0) in_sync`);

  it("is probed in guest memory for every device, and hw(…) through the vfio-pci device", () => {
    const steps = stepsOf(spec, KVM_TRAITS);
    const kinds = steps.map((s) => s.calls.map((c) => c.kind).join(","));
    expect(kinds).toEqual([
      "plug",
      "hcall",
      "vfio-dma",
      // No device on the PHB: the host says whether one is there.
      "mark",
      // The PHB's first vfio-pci plug: the probes' scratch entry first, for the plug's replay to carry.
      "scratch,plug",
      "hcall,vfio-dma,vfio-dma",
      // The table exists (two window bases asked), then each IOBA the spec wrote.
      "hcall,hcall,hcall,vfio-dma,vfio-dma",
    ]);
  });

  it("puts the scratch entry before the plug where a probe needs it, at the page its probes use, away from what the spec reads or stuffs", () => {
    const steps = stepsOf(specOf("machine kvm\nphb phb0 index 0\nput_tce phb0 0x1000 0x1003\nexpect get_tce phb0 0x3ffff000 == 0\nplug vfio d0 on phb0\nexpect hw(phb0, 0x1000) == 0x1003"), KVM_TRAITS);
    const calls = steps.flatMap((s) => s.calls);
    const pre = calls.find((c) => c.kind === "scratch")!;
    const probe = calls.find((c) => c.kind === "vfio-dma")!;
    expect(pre).toMatchObject({ used: true, scratch: { liobn: 0x80000000n, ioba: 0x3fffe000n } });
    expect(probe.kind === "vfio-dma" && probe.scratch).toEqual(pre.kind === "scratch" && pre.scratch);
    // No probe: no put at all.
    const none = planFor(specOf("machine kvm\nphb phb0 index 0\nplug vfio d0 on phb0\nexpect vfio(phb0) yes"), "qemu-7.2", KVM_TRAITS);
    expect("steps" in none && none.steps.flatMap((s) => s.calls).find((c) => c.kind === "scratch")).toMatchObject({ used: false });
  });

  it("asks whether an entry exists at its page's IOBA: KVM refuses an unaligned one (found by explore: hw(phb0, 0x1001) read 'outside the window')", () => {
    const steps = stepsOf(specOf("machine kvm caps spapr_tce, spapr_tce_vfio\nphb phb0 index 0\nplug vfio d5 on phb0\nexpect hw(phb0, 0x1001) == 0x0"), KVM_TRAITS);
    const [get] = steps.at(-1)!.calls;
    expect(get).toMatchObject({ kind: "hcall", opcode: 0x1cn, args: [0x80000000n, 0x1000n] });
  });

  it("hw(T) in_sync leaves out an IOBA outside the window: where a DMA there lands is the PHB's (found by explore on PowerNV: it wrapped round to IOBA 0)", () => {
    const steps = stepsOf(specOf("machine kvm\nphb phb0 index 0\nexpect put_tce phb0 0x4000_0000 0 == H_PARAMETER\nplug vfio d2 on phb0\nexpect put_tce phb0 0 1 == H_SUCCESS\nexpect hw(phb0) in_sync"), KVM_TRAITS);
    const { calls, read } = steps.at(-1)!;
    // PowerNV's answers: the guest view has no entry at 1 GiB, and both DMAs, at 0 and at 1 GiB, read page 0.
    const answers = calls.map((call) => {
      if (call.kind === "hcall") return call.args[1] === 0x4000_0000n ? { kind: "hcall" as const, code: "H_PARAMETER" as const } : { kind: "hcall" as const, code: "H_SUCCESS" as const, value: call.args[1] === 0n ? 1n : 0n };
      if (call.kind === "vfio-dma") return { probe: call.access === "read" ? ([BigInt(VFIO_PROBE.tag), 0n] as const) : ([0n, BigInt(VFIO_PROBE.preload)] as const) };
      throw new Error(`unexpected call ${call.kind}`);
    });
    expect(read(answers)).toEqual({ answer: "in_sync", note: "probed the 2 IOBAs the spec wrote, 0x40000000 outside the window (no entry to compare)" });
  });

  it("hw(T) in_sync without the probe's own entry in the hardware table: reads unseen, writes still judged (found by explore on PowerNV: QEMU 7.2 never listened)", () => {
    const steps = stepsOf(specOf("machine kvm caps spapr_tce_vfio\nphb phb0 index 0\nput_tce phb0 0x1000 0x1001\nput_tce phb0 0x2000 0x2003\nplug vfio d2 on phb0\nexpect hw(phb0) in_sync"), KVM_TRAITS);
    const { calls, read } = steps.at(-1)!;
    const sentinel = [BigInt(VFIO_PROBE.sentinel), 0n] as const;
    // Every DMA faults: no read comes back, no write lands, the write-back never arrives.
    const answersWith = (writeAt2000: bigint) =>
      calls.map((call) => {
        if (call.kind === "hcall") return { kind: "hcall" as const, code: "H_SUCCESS" as const, value: call.args[1] === 0x1000n ? 0x1001n : call.args[1] === 0x2000n ? 0x2003n : 0n };
        if (call.kind === "vfio-dma") return { probe: call.access === "read" ? sentinel : ([call.ioba === 0x2000n ? writeAt2000 : 0n, BigInt(VFIO_PROBE.sentinel)] as const) };
        throw new Error(`unexpected call ${call.kind}`);
      });
    // 0x2000 is writable in the guest view and its write faults: seen, out of sync.
    const faulted = read(answersWith(0n));
    expect(faulted).toMatchObject({ answer: "out_of_sync" });
    expect(typeof faulted === "object" && "note" in faulted && faulted.note).toMatch(/0x2000: writes fault, the guest view calls for 0x2003; the hardware table lacks the probe's own entry/);
    // Where the writes are as the guest view says, the reads are what is left: unseen, not in sync and not out of it.
    const candidates = calls.find((c) => c.kind === "vfio-dma" && c.ioba === 0x2000n && c.access === "write");
    const k = candidates?.kind === "vfio-dma" ? candidates.candidates.indexOf(0x2000n) : -1;
    expect(k).toBeGreaterThanOrEqual(0);
    // A read that came back from none of the spec's pages landed: seen, and it differs.
    const foreign = answersWith(1n << BigInt(k)).map((a, i) => (calls[i]!.kind === "vfio-dma" && (calls[i] as { access: string }).access === "read" ? { probe: [0x99n, 0n] as const } : a));
    expect(read(foreign)).toMatchObject({ answer: "out_of_sync" });
    expect(read(answersWith(1n << BigInt(k)))).toMatch(/^unseen: probed the 2 IOBAs the spec wrote; where reads at 0x1000, 0x2000 land: the hardware table lacks the probe's own entry at 0x[0-9a-f]+, which the guest view holds \(writes there are as the guest view says\)$/);
  });

  it("is QEMU's translation trace under TCG", () => {
    const plan = planFor(specOf("machine tcg\nphb phb0 index 0\nplug emulated net0 on phb0\nexpect dma net0 read 0x0 == fault"), "qemu-7.2", TCG_TRAITS);
    expect("steps" in plan && plan.steps.map((s) => s.calls.map((c) => c.kind).join(","))).toEqual(["plug", "dma"]);
  });
});

describe("a PHB's devices", () => {
  it("take slots 1 to 31; a 32nd is unsupported with the reason (a PCI bus has 32 slots)", () => {
    const plugs = (n: number) => Array.from({ length: n }, (_, i) => `plug emulated e${i} on phb0`).join("\n");
    const most = planFor(specOf(`machine tcg\nphb phb0 index 0\n${plugs(31)}\nexpect dma e30 write 0 == fault`), "qemu-7.2", TCG_TRAITS);
    expect("steps" in most).toBe(true);
    const over = planFor(specOf(`machine tcg\nphb phb0 index 0\n${plugs(32)}\nexpect dma e31 write 0 == fault`), "qemu-7.2", TCG_TRAITS);
    expect(over).toEqual({ unsupported: expect.stringMatching(/plug: a device in slot 32 of a PHB: a PCI bus has slots 0 to 31, .* 31 devices to a PHB at most$/) });
    // Another PHB has slots of its own.
    const two = planFor(specOf(`machine tcg\nphb phb0 index 0\nphb phb1 index 1\n${plugs(31)}\nplug emulated f0 on phb1\nexpect dma f0 write 0 == fault`), "qemu-7.2", TCG_TRAITS);
    expect("steps" in two).toBe(true);
  });

  it("are plugged at the slot QEMU reads: addr= is hexadecimal", () => {
    expect(eduOptions("e", "b", 10)).toBe("edu,id=e,bus=b,addr=a");
    expect(eduOptions("e", "b", 16)).toBe("edu,id=e,bus=b,addr=10");
  });
});

describe("which of L1's vfio-pci devices a plug takes", () => {
  // L1's devices: two in IOMMU group 0 (L0's PHB 0), one in group 1.
  const groups = [0, 0, 1];

  it("a second device on a PHB shares the first one's group, a device on another PHB gets a group of its own", async () => {
    const { pickHost } = await import("../../src/backends/real/planner.js");
    expect(pickHost(groups, [], 0)).toBe(1);
    expect(pickHost(groups, [{ host: 1, phbIndex: 0 }], 0)).toBe(2);
    expect(pickHost(groups, [{ host: 1, phbIndex: 0 }], 1)).toBe(3);
    // The PHB's first device when group 0 serves another PHB: group 1.
    expect(pickHost(groups, [{ host: 2, phbIndex: 1 }], 0)).toBe(3);
    // Unplugged devices are free again.
    expect(pickHost(groups, [{ host: 2, phbIndex: 0 }], 0)).toBe(1);
  });

  it("none where every free device's group serves another PHB: the plug is unsupported with the reason, before QEMU refuses it", async () => {
    const { pickHost } = await import("../../src/backends/real/planner.js");
    // phb0 has group 0 (one device left free in it), phb1 group 1: nothing for phb2.
    expect(pickHost(groups, [{ host: 1, phbIndex: 0 }, { host: 3, phbIndex: 1 }], 2)).toBeUndefined();
    const caps = "machine kvm\nphb phb0 index 0\nphb phb1 index 1\nphb phb2 index 2\n";
    const three = planFor(specOf(`${caps}plug vfio a on phb0\nplug vfio b on phb1\nplug vfio c on phb2\nexpect vfio(phb2) yes`), "qemu-7.2", KVM_TRAITS);
    expect(three).toEqual({ unsupported: expect.stringMatching(/^line 7: plug vfio: no free device of the host's is in an IOMMU group this PHB may use \(the host's groups: 0, 0, 1;/) });
    // After phb1's device goes, group 1 is free for phb2.
    const after = planFor(specOf(`${caps}plug vfio a on phb0\nplug vfio b on phb1\nunplug b\nplug vfio c on phb2\nexpect vfio(phb2) yes`), "qemu-7.2", KVM_TRAITS);
    expect("steps" in after && after.steps.flatMap((s) => s.calls.flatMap((c) => (c.kind === "plug" ? [`${c.device.name}:${c.device.host}`] : [])))).toEqual(["a:1", "b:3", "c:3"]);
    // On pseries a PHB's devices share a group: phb1's second device cannot be of group 0.
    const mixed = planFor(specOf(`${caps}plug vfio a on phb0\nplug vfio b on phb1\nunplug a\nplug vfio c on phb1\nexpect vfio(phb1) yes`), "qemu-7.2", KVM_TRAITS);
    expect(mixed).toEqual({ unsupported: "line 8: plug vfio: the PHB's device is in IOMMU group 1, whose devices are all plugged, and a device of another group would get a container and a notifier of its own" });
  });

  it("L1 lists its devices with the two of group 0 first", async () => {
    const { PSERIES } = await import("../../src/backends/kvm/hosts.js");
    const edus = PSERIES.args.filter((a) => /^edu(,|$)/.test(a)).map((a) => (a.includes("bus=l0phb1") ? 1 : 0));
    expect(PSERIES.groups).toEqual(edus.sort((a, b) => a - b));
  });
});

describe("a DMA window next to a vfio-pci device on the kvm backend", () => {
  it("is unsupported beyond 2^21 entries (L1 makes one-level tables), in either order, with the reason", () => {
    const created = specOf("machine kvm\nphb phb0 index 0\nplug vfio dev0 on phb0\ncreate_window phb0 page 64K size 256G");
    const before = specOf("machine kvm\nphb phb0 index 0\ncreate_window phb0 page 64K size 256G\nplug vfio dev0 on phb0");
    for (const spec of [created, before])
      expect(planFor(spec, "qemu-7.2", KVM_TRAITS)).toEqual({ unsupported: expect.stringMatching(/4194304 entries.*2097152 entries at most/) });
    // 2^21 entries fit, and a large window removed before the plug is no obstacle.
    const fits = specOf("machine kvm\nphb phb0 index 0\nplug vfio dev0 on phb0\ncreate_window phb0 page 64K size 128G");
    const removed = specOf("machine kvm\nphb phb0 index 0\ncreate_window phb0 page 64K size 1T\nremove_window phb0[1]\nplug vfio dev0 on phb0");
    for (const spec of [fits, removed]) expect("steps" in planFor(spec, "qemu-7.2", KVM_TRAITS)).toBe(true);
  });
});
