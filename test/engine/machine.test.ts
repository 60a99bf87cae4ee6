// SEMANTICS.md: placement, DMA windows, devices and DMA, reset, migration, and the profiles.
import { describe, expect, it } from "vitest";
import { Engine } from "../../src/engine/engine.js";
import { DDW_BASE, dma, engine, FIXED, get, GIB, L0, L1, phb, plug, PROFILES, put, rc, stuff, TIB, unplug, apply } from "./helpers.js";
import { liobnOf } from "../../src/engine/types.js";

describe("where the guest view lives", () => {
  it.each(PROFILES)("tcg: always userspace (%s)", (profile) => {
    const e = engine(profile);
    expect(e.placement(L0)).toBe("userspace");
  });
  it.each(PROFILES)("kvm with spapr_tce: in KVM (%s)", (profile) => {
    expect(engine(profile, "kvm", ["spapr_tce"]).placement(L0)).toBe("kvm");
  });
  it("kvm without spapr_tce: userspace", () => {
    expect(engine("qemu-7.2", "kvm", ["multi_tce", "spapr_tce_64"]).placement(L0)).toBe("userspace");
  });
  it("before spapr_tce_64 only a window under 4 GiB at bus offset 0 fits the kernel", () => {
    const e = engine("qemu-7.2", "kvm", ["spapr_tce"], [phb(0, { dma32: 2n * GIB }), phb(1, { dma32: 4n * GIB })]);
    expect(e.placement(liobnOf(0, 0))).toBe("kvm");
    expect(e.placement(liobnOf(1, 0))).toBe("userspace");
    apply(e, { kind: "create_window", phbIndex: 0, pageSize: 0x10000n, windowSize: GIB });
    expect(e.placement(liobnOf(0, 1))).toBe("userspace");
  });
  it("with spapr_tce_64 any window fits", () => {
    const e = engine("qemu-7.2", "kvm", ["spapr_tce", "spapr_tce_64"], [phb(0, { dma32: 4n * GIB })]);
    apply(e, { kind: "create_window", phbIndex: 0, pageSize: 0x10000n, windowSize: TIB });
    expect([e.placement(L0), e.placement(L1)]).toEqual(["kvm", "kvm"]);
  });
  it("a window that does not exist is absent", () => {
    expect(engine("qemu-7.2").placement(L1)).toBe("absent");
  });
});

describe("DMA windows through RTAS", () => {
  const create = (e: ReturnType<typeof engine>, pageSize: bigint, windowSize: bigint, phbIndex = 0) =>
    apply(e, { kind: "create_window", phbIndex, pageSize, windowSize });

  it("the default window: offset 0, 1 GiB of 4 KiB pages", () => {
    expect(engine("qemu-7.2").geometry(L0)).toEqual({ windowSize: GIB, pageSize: 4096n, offset: 0n });
  });
  it("create takes the lowest free window; window 1 sits at 2^59", () => {
    const e = engine("qemu-7.2");
    expect(create(e, 0x10000n, TIB)).toEqual({ kind: "rtas", code: "RTAS_OK", liobn: L1, busOffset: DDW_BASE });
    expect(e.geometry(L1)).toEqual({ windowSize: TIB, pageSize: 0x10000n, offset: DDW_BASE });
  });
  it("with no window active the new one takes the 32-bit window's address", () => {
    const e = engine("qemu-7.2");
    apply(e, { kind: "remove_window", liobn: L0 });
    expect(create(e, 0x10000n, GIB)).toMatchObject({ code: "RTAS_OK", liobn: L0, busOffset: 0n });
    expect(create(e, 0x1000n, GIB)).toMatchObject({ code: "RTAS_OK", liobn: L1, busOffset: DDW_BASE });
  });
  it("no free window: RTAS_HW_ERROR", () => {
    const e = engine("qemu-7.2");
    create(e, 0x10000n, TIB);
    expect(rc(create(e, 0x1000n, GIB))).toBe("RTAS_HW_ERROR");
  });
  it("a page size the PHB does not offer: RTAS_PARAM_ERROR; 2M only on qemu-7.2", () => {
    expect(rc(create(engine("qemu-7.2"), 0x2000n, GIB))).toBe("RTAS_PARAM_ERROR");
    expect(rc(create(engine("qemu-7.2"), 2n << 20n, 4n * GIB))).toBe("RTAS_OK");
    for (const p of ["pre-fix", "seed-v10", "qemu-2.7"] as const)
      expect(rc(create(engine(p), 2n << 20n, 4n * GIB))).toBe("RTAS_PARAM_ERROR");
  });
  it("a window of 2^32 pages or more: RTAS_HW_ERROR (seen on QEMU 7.2)", () => {
    const e = engine("qemu-7.2");
    expect(rc(create(e, 0x10000n, 1n << 50n))).toBe("RTAS_HW_ERROR");
    expect(e.windowCount(0)).toBe(1);
  });
  it("query answers the free windows and the page-size mask", () => {
    const e = engine("qemu-7.2");
    expect(apply(e, { kind: "query_window", phbIndex: 0 })).toEqual({ kind: "rtas", code: "RTAS_OK", free: 1, pageMask: 0x107n });
    expect(apply(engine("qemu-2.7"), { kind: "query_window", phbIndex: 0 })).toMatchObject({ pageMask: 0x7n });
  });
  it("remove: the window and its entries are gone; the default one can go too", () => {
    const e = engine("qemu-7.2");
    create(e, 0x1000n, GIB);
    put(e, L1, DDW_BASE, 3n);
    expect(rc(apply(e, { kind: "remove_window", liobn: L1 }))).toBe("RTAS_OK");
    expect(get(e, L1, DDW_BASE)).toBe("H_PARAMETER");
    expect(rc(apply(e, { kind: "remove_window", liobn: L1 }))).toBe("RTAS_PARAM_ERROR");
    expect(rc(apply(e, { kind: "remove_window", liobn: L0 }))).toBe("RTAS_OK");
    expect(e.windowCount(0)).toBe(0);
  });
  it("reset: every DDW window removed, the default window restored empty", () => {
    const e = engine("qemu-7.2");
    put(e, L0, 0x1000n, 3n);
    create(e, 0x1000n, GIB);
    expect(rc(apply(e, { kind: "reset_windows", phbIndex: 0 }))).toBe("RTAS_OK");
    expect([e.windowCount(0), get(e, L0, 0x1000n), e.placement(L1)]).toEqual([1, 0n, "absent"]);
  });
  it("ddw off: every DDW call is RTAS_PARAM_ERROR", () => {
    const e = engine("qemu-7.2", "tcg", [], [phb(0, { ddw: false })]);
    for (const op of [
      { kind: "query_window", phbIndex: 0 },
      { kind: "create_window", phbIndex: 0, pageSize: 4096n, windowSize: GIB },
      { kind: "remove_window", liobn: L0 },
      { kind: "reset_windows", phbIndex: 0 },
    ] as const)
      expect(rc(apply(e, op))).toBe("RTAS_PARAM_ERROR");
  });
});

describe("devices and DMA", () => {
  it("an emulated device translates through the guest view, with the page offset", () => {
    const e = engine("qemu-7.2");
    plug(e, "net0", "emulated");
    put(e, L0, 0x3000n, 0x45670003n);
    expect(dma(e, "net0", "read", 0x3abcn)).toBe(0x45670abcn);
  });
  it("a missing permission or an IOBA outside every window faults", () => {
    const e = engine("qemu-7.2");
    plug(e, "net0", "emulated");
    put(e, L0, 0x1000n, 0x10001n);
    expect(dma(e, "net0", "write", 0x1000n)).toBe("fault");
    expect(dma(e, "net0", "read", 0x1000n)).toBe(0x10000n);
    expect(dma(e, "net0", "read", GIB)).toBe("fault");
  });
  it("a vfio-pci device translates through the hardware table", () => {
    const e = engine("pre-fix", "kvm", ["spapr_tce", "multi_tce"]);
    plug(e, "dev0");
    put(e, L0, 0x1000n, 0x10003n);
    expect(e.guestEntry(L0, 0x1000n)).toBe(0x10003n);
    expect(dma(e, "dev0", "read", 0x1000n)).toBe("fault");
  });
});

describe("what the hardware table grants", () => {
  it("QEMU's vfio maps a write-only TCE readable too; KVM's own maps keep its direction; both are in sync", () => {
    const byQemu = engine("qemu-7.2", "kvm", ["spapr_tce", "multi_tce"]);
    plug(byQemu, "dev0");
    put(byQemu, L0, 0x2000n, 0x5550002n);
    expect([byQemu.placement(L0), byQemu.hardwareEntry(L0, 0x2000n), dma(byQemu, "dev0", "read", 0x2010n)]).toEqual(["userspace", 0x5550003n, 0x5550010n]);
    const byKvm = engine("qemu-7.2", "kvm", ["spapr_tce", "multi_tce", "spapr_tce_vfio"]);
    plug(byKvm, "dev0");
    put(byKvm, L0, 0x2000n, 0x5550002n);
    expect([byKvm.placement(L0), byKvm.hardwareEntry(L0, 0x2000n), dma(byKvm, "dev0", "read", 0x2010n)]).toEqual(["kvm", 0x5550002n, "fault"]);
    expect([byQemu.hardwareState(L0), byKvm.hardwareState(L0)]).toEqual(["in_sync", "in_sync"]);
    // Read-only stays read-only either way.
    put(byQemu, L0, 0x3000n, 0x6660001n);
    expect(byQemu.hardwareEntry(L0, 0x3000n)).toBe(0x6660001n);
  });
});

describe("vfio-pci hotplug", () => {
  it.each(PROFILES)("the first device: has_vfio, one notifier per table, a replayed hardware table (%s)", (profile) => {
    const e = engine(profile, "kvm", ["spapr_tce", "spapr_tce_64", "multi_tce"]);
    apply(e, { kind: "create_window", phbIndex: 0, pageSize: 0x10000n, windowSize: TIB });
    expect(put(e, L0, 0x1000n, 0x12340003n)).toBe("H_SUCCESS");
    expect(put(e, L1, DDW_BASE, 0x20001n)).toBe("H_SUCCESS");
    expect(e.hardwareState(L0)).toBe("absent");
    plug(e, "a");
    plug(e, "b");
    expect(e.hasVfio(0)).toBe(true);
    expect([e.notifierCount(L0), e.notifierCount(L1)]).toEqual([1, 1]);
    expect(e.hardwareEntry(L0, 0x1000n)).toBe(0x12340003n);
    expect(e.hardwareEntry(L1, DDW_BASE)).toBe(0x20001n);
    expect([e.hardwareState(L0), e.hardwareState(L1)]).toEqual(["in_sync", "in_sync"]);
  });
  it.each(PROFILES)("the last unplug clears has_vfio, the notifier and the hardware table (%s)", (profile) => {
    const e = engine(profile, "kvm", ["spapr_tce", "multi_tce"]);
    plug(e, "a");
    plug(e, "b");
    unplug(e, "a");
    expect([e.hasVfio(0), e.notifierCount(L0), e.hardwareState(L0)]).toEqual([true, 1, "in_sync"]);
    unplug(e, "b");
    expect([e.hasVfio(0), e.notifierCount(L0), e.hardwareState(L0)]).toEqual([false, 0, "absent"]);
  });
  it("an emulated device registers no notifier and moves nothing", () => {
    const e = engine("qemu-2.7", "kvm", ["spapr_tce"]);
    plug(e, "net0", "emulated");
    expect([e.placement(L0), e.notifierCount(L0), e.hasVfio(0)]).toEqual(["kvm", 0, false]);
  });
  it("a device on another PHB leaves this one alone", () => {
    const e = engine("qemu-2.7", "kvm", ["spapr_tce"], [phb(0), phb(1)]);
    plug(e, "d", "vfio", 1);
    expect([e.placement(L0), e.placement(liobnOf(1, 0))]).toEqual(["kvm", "userspace"]);
  });
});

describe("profiles: the first vfio-pci hotplug onto a PHB whose table is in KVM", () => {
  const scenario = (
    profile: (typeof PROFILES)[number],
    caps: ("spapr_tce" | "multi_tce" | "spapr_tce_vfio")[] = ["spapr_tce", "multi_tce"],
  ) => {
    const e = engine(profile, "kvm", caps);
    put(e, L0, 0x1000n, 0x10003n);
    plug(e, "dev0");
    put(e, L0, 0x2000n, 0x20003n);
    return e;
  };
  it("pre-fix: the table stays in KVM and the hardware table misses later puts", () => {
    const e = scenario("pre-fix");
    expect(e.placement(L0)).toBe("kvm");
    expect(e.hardwareEntry(L0, 0x1000n)).toBe(0x10003n);
    expect(e.hardwareEntry(L0, 0x2000n)).toBe(0n);
    expect(e.hardwareState(L0)).toBe("out_of_sync");
  });
  it("pre-fix without multi_tce: QEMU sees H_STUFF_TCE, so vfio does", () => {
    const e = scenario("pre-fix", ["spapr_tce"]);
    stuff(e, L0, 0x3000n, 0x30003n, 1n);
    expect(e.hardwareEntry(L0, 0x3000n)).toBe(0x30003n);
  });
  it.each(FIXED)("%s: the table moves to userspace and stays in step", (profile) => {
    const e = scenario(profile);
    expect(e.placement(L0)).toBe("userspace");
    expect(e.hardwareEntry(L0, 0x2000n)).toBe(0x20003n);
    expect(e.hardwareState(L0)).toBe("in_sync");
    unplug(e, "dev0");
    expect(e.placement(L0)).toBe("userspace");
  });
  it("qemu-7.2 with spapr_tce_vfio: the table stays in KVM and KVM keeps the hardware table in step", () => {
    const e = scenario("qemu-7.2", ["spapr_tce", "multi_tce", "spapr_tce_vfio"]);
    expect(e.placement(L0)).toBe("kvm");
    expect(e.hardwareState(L0)).toBe("in_sync");
    put(e, L0, 0x2000n, 0n);
    expect(e.hardwareEntry(L0, 0x2000n)).toBe(0n);
  });
  it.each(["pre-fix", "seed-v10", "qemu-2.7"] as const)("%s ignores spapr_tce_vfio", (profile) => {
    const e = scenario(profile, ["spapr_tce", "multi_tce", "spapr_tce_vfio"]);
    expect(e.placement(L0)).toBe(profile === "pre-fix" ? "kvm" : "userspace");
    expect(e.hardwareState(L0)).toBe(profile === "pre-fix" ? "out_of_sync" : "in_sync");
  });
  it.each(PROFILES)("a table already in userspace stays there (%s)", (profile) => {
    const e = engine(profile, "kvm", ["spapr_tce", "spapr_tce_vfio"], [phb(0, { dma32: 8n * GIB })]);
    plug(e, "d");
    unplug(e, "d");
    expect(e.placement(L0)).toBe("userspace");
  });
});

describe("reset and migration", () => {
  it.each(PROFILES)("reset: entries cleared, DDW windows gone, the default window back (%s)", (profile) => {
    const e = engine(profile, "kvm", ["spapr_tce"]);
    put(e, L0, 0x1000n, 3n);
    apply(e, { kind: "create_window", phbIndex: 0, pageSize: 4096n, windowSize: GIB });
    apply(e, { kind: "reset" });
    expect([get(e, L0, 0x1000n), e.windowCount(0), e.placement(L0)]).toEqual([0n, 1, "kvm"]);
  });
  it("reset with a vfio-pci device: an empty hardware table, placement decided again", () => {
    for (const profile of PROFILES) {
      const e = engine(profile, "kvm", ["spapr_tce"]);
      put(e, L0, 0x1000n, 3n);
      plug(e, "d");
      apply(e, { kind: "reset" });
      expect([e.hardwareState(L0), e.notifierCount(L0), e.placement(L0)]).toEqual([
        "in_sync",
        1,
        profile === "pre-fix" ? "kvm" : "userspace",
      ]);
    }
  });
  it("migration is refused while a vfio-pci device is present", () => {
    const e = engine("qemu-7.2");
    plug(e, "d");
    expect(apply(e, { kind: "migrate" })).toEqual({ kind: "migrate", ok: false });
    expect(e.hasVfio(0)).toBe(true);
  });
  it("migration carries geometry and entries, and decides placement afresh", () => {
    const e = engine("qemu-2.7", "kvm", ["spapr_tce"]);
    put(e, L0, 0x1000n, 0x1003n);
    plug(e, "d");
    unplug(e, "d");
    plug(e, "net0", "emulated");
    apply(e, { kind: "create_window", phbIndex: 0, pageSize: 0x10000n, windowSize: TIB });
    put(e, L1, DDW_BASE + 0x10000n, (1n << 64n) - 1n);
    const before = e.snapshot();
    expect(e.placement(L0)).toBe("userspace");
    expect(apply(e, { kind: "migrate" })).toEqual({ kind: "migrate", ok: true });
    expect(e.snapshot()).toEqual(before);
    expect(e.placement(L0)).toBe("kvm");
    expect(get(e, L1, DDW_BASE + 0x10000n)).toBe((1n << 64n) - 1n);
    expect(dma(e, "net0", "read", 0x1008n)).toBe(0x1008n);
  });

  it("migration carries the guest's RAM: the destination's KVM translates a list as the source's did", () => {
    const e = new Engine("qemu-7.2", { accel: "kvm", caps: ["spapr_tce", "multi_tce"], ram: 0x4000_0000n });
    e.apply({ kind: "add_phb", phb: phb() });
    expect(apply(e, { kind: "migrate" })).toEqual({ kind: "migrate", ok: true });
    expect(apply(e, { kind: "put_tce_indirect", liobn: L0, ioba: 0x1000n, tces: [0x3000_0000n], listAddress: 0n })).toMatchObject({ code: "H_SUCCESS" });
    expect(apply(e, { kind: "put_tce_indirect", liobn: L0, ioba: 0x1000n, tces: [0x4000_0000n], listAddress: 0n })).toMatchObject({ code: "H_PARAMETER" });
  });
});
