// SEMANTICS.md, "Hypercalls handled in userspace (QEMU)" and "Hypercalls handled in KVM".
import { describe, expect, it } from "vitest";
import { engine, get, indirect, L0, phb, PROFILES, put, stuff } from "./helpers.js";
import { Engine } from "../../src/engine/engine.js";
import { PROFILES as PROFILE_RULES } from "../../src/engine/profiles.js";
import { KVM_LINUX_6 } from "../../src/engine/kvm.js";

describe.each(PROFILES)("userspace hypercalls under %s", (profile) => {
  const tcg = () => engine(profile);

  it("an unknown LIOBN is H_PARAMETER", () => {
    const e = tcg();
    expect(put(e, 0x80000099n, 0n, 3n)).toBe("H_PARAMETER");
    expect(get(e, 0x12345678n, 0n)).toBe("H_PARAMETER");
    expect(stuff(e, 0x80000005n, 0n, 0n, 1n)).toBe("H_PARAMETER");
    expect(indirect(e, 0x80000005n, 0n, [3n])).toBe("H_PARAMETER");
  });

  it("the IOBA is rounded down to its page", () => {
    const e = tcg();
    expect(put(e, L0, 0x1fffn, 0x5551n)).toBe("H_SUCCESS");
    expect(get(e, L0, 0x1000n)).toBe(0x5551n);
    expect(get(e, L0, 0x1abcn)).toBe(0x5551n);
  });

  it("an IOBA outside the window is H_PARAMETER", () => {
    const e = tcg();
    expect(put(e, L0, 1n << 30n, 3n)).toBe("H_PARAMETER");
    expect(get(e, L0, 1n << 30n)).toBe("H_PARAMETER");
    expect(put(e, L0, (1n << 64n) - 0x1000n, 3n)).toBe("H_PARAMETER");
    expect(put(e, L0, (1n << 30n) - 1n, 3n)).toBe("H_SUCCESS");
  });

  it("H_PUT_TCE stores the TCE as given: no bit is checked", () => {
    const e = tcg();
    put(e, L0, 0x2000n, (1n << 64n) - 1n);
    expect(get(e, L0, 0x2000n)).toBe((1n << 64n) - 1n);
  });

  it("H_GET_TCE returns the entry; entries start at 0", () => {
    const e = tcg();
    expect(get(e, L0, 0n)).toBe(0n);
    put(e, L0, 0n, 0x1234n);
    expect(get(e, L0, 0n)).toBe(0x1234n);
  });

  it("H_STUFF_TCE stops at the first failure and keeps what it wrote", () => {
    const e = tcg();
    expect(stuff(e, L0, (1n << 30n) - 0x2000n, 0x5003n, 4n)).toBe("H_PARAMETER");
    expect(get(e, L0, (1n << 30n) - 0x2000n)).toBe(0x5003n);
    expect(get(e, L0, (1n << 30n) - 0x1000n)).toBe(0x5003n);
  });

  it("H_STUFF_TCE refuses a count larger than the table before writing (seen on QEMU 7.2)", () => {
    const e = tcg();
    expect(stuff(e, L0, 0x3000n, 0x7003n, 262145n)).toBe("H_PARAMETER");
    expect(get(e, L0, 0x3000n)).toBe(0n);
  });

  it("H_STUFF_TCE with count 0 answers H_PARAMETER (seen on QEMU 7.2)", () => {
    expect(stuff(tcg(), L0, 0n, 3n, 0n)).toBe("H_PARAMETER");
  });

  it("H_PUT_TCE_INDIRECT: a list not 4 KiB aligned is H_PARAMETER", () => {
    const e = tcg();
    expect(indirect(e, L0, 0n, [3n], 0x10008n)).toBe("H_PARAMETER");
    expect(get(e, L0, 0n)).toBe(0n);
  });

  it("H_PUT_TCE_INDIRECT: more than 512 entries is H_PARAMETER", () => {
    const e = tcg();
    expect(indirect(e, L0, 0n, new Array(513).fill(3n))).toBe("H_PARAMETER");
    expect(get(e, L0, 0n)).toBe(0n);
    expect(indirect(e, L0, 0n, new Array(512).fill(3n))).toBe("H_SUCCESS");
    expect(get(e, L0, 511n * 0x1000n)).toBe(3n);
  });

  it("H_PUT_TCE_INDIRECT stops at the first failure", () => {
    const e = tcg();
    expect(indirect(e, L0, (1n << 30n) - 0x1000n, [0xa003n, 0xb003n])).toBe("H_PARAMETER");
    expect(get(e, L0, (1n << 30n) - 0x1000n)).toBe(0xa003n);
  });

  it("H_PUT_TCE_INDIRECT with 0 entries answers H_PARAMETER (seen on QEMU 7.2)", () => {
    expect(indirect(tcg(), L0, 0n, [])).toBe("H_PARAMETER");
  });
});

describe.each(PROFILES)("KVM hypercalls under %s", (profile) => {
  const kvm = (caps: ("spapr_tce" | "multi_tce")[] = ["spapr_tce", "multi_tce"]) => engine(profile, "kvm", caps);

  it("an IOBA that is not page-aligned is H_PARAMETER (kvmppc_ioba_validate)", () => {
    const e = kvm();
    expect(e.placement(L0)).toBe("kvm");
    expect(put(e, L0, 0x1001n, 0x1003n)).toBe("H_PARAMETER");
    expect(get(e, L0, 0x1001n)).toBe("H_PARAMETER");
  });

  // Which kernel a profile stands for is the profile's own fact, not this test's.
  const linux6 = PROFILE_RULES[profile].kvm === KVM_LINUX_6;
  const end = (1n << 30n) - 0x1000n;

  it("a range running outside the window: the whole range checked on 4.x, the first entry on 6.x", () => {
    const e = kvm();
    put(e, L0, end, 0x8003n);
    expect(stuff(e, L0, end + 0x1000n, 0n, 1n)).toBe("H_PARAMETER");
    expect(stuff(e, L0, end, 0n, 2n)).toBe(linux6 ? "H_SUCCESS" : "H_PARAMETER");
    expect(get(e, L0, end)).toBe(linux6 ? 0n : 0x8003n);
    put(e, L0, end, 0x8003n);
    expect(indirect(e, L0, end, [0n, 0n])).toBe(linux6 ? "H_SUCCESS" : "H_PARAMETER");
    expect(get(e, L0, end)).toBe(linux6 ? 0n : 0x8003n);
  });

  it("a TCE with bits below the page: H_PARAMETER on 4.x; on 6.x H_TOO_HARD, and QEMU stores it", () => {
    const e = kvm();
    expect(put(e, L0, 0x2000n, 0x12340007n)).toBe(linux6 ? "H_SUCCESS" : "H_PARAMETER");
    expect(get(e, L0, 0x2000n)).toBe(linux6 ? 0x12340007n : 0n);
    expect(put(e, L0, 0x3000n, 0x12340004n)).toBe("H_SUCCESS");
  });

  it("with multi_tce, KVM stuffs only TCEs without permissions and checks a list's TCEs first", () => {
    const e = kvm();
    expect(stuff(e, L0, 0n, 0x5003n, 1n)).toBe("H_PARAMETER");
    expect(indirect(e, L0, 0n, [0x1003n, 0x2007n])).toBe(linux6 ? "H_SUCCESS" : "H_PARAMETER");
    expect(get(e, L0, 0n)).toBe(linux6 ? 0x1003n : 0n);
    expect(indirect(e, L0, 0n, [])).toBe("H_SUCCESS");
    expect(stuff(e, L0, 0n, 0n, 0n)).toBe("H_SUCCESS");
  });

  it("without multi_tce, H_STUFF_TCE and H_PUT_TCE_INDIRECT go to QEMU's rules", () => {
    const e = kvm(["spapr_tce"]);
    expect(e.placement(L0)).toBe("kvm");
    expect(stuff(e, L0, 0n, 0x5003n, 1n)).toBe("H_SUCCESS");
    expect(indirect(e, L0, 0x1001n, [0x12340007n])).toBe("H_SUCCESS");
    expect(get(e, L0, 0x1000n)).toBe(0x12340007n);
  });

  it("a list entry without permission outside guest RAM: H_PARAMETER on 6.x, the entries before it kept (seen on 6.12)", () => {
    const e = kvm();
    expect(indirect(e, L0, 0x1000n, [0x1003n, 0x2000_0000n, 0x2003n])).toBe(linux6 ? "H_PARAMETER" : "H_SUCCESS");
    expect(get(e, L0, 0x1000n)).toBe(0x1003n);
    expect(get(e, L0, 0x3000n)).toBe(linux6 ? 0n : 0x2003n);
    // Inside the default 512M, and with a permission (QEMU stores it): no such refusal.
    expect(indirect(e, L0, 0x10000n, [0x1fff_0000n])).toBe("H_SUCCESS");
    expect(indirect(e, L0, 0x20000n, [0x4000_0003n])).toBe("H_SUCCESS");
    expect(get(e, L0, 0x20000n)).toBe(0x4000_0003n);
    // A guest of 1G has that address.
    const big = new Engine(profile, { accel: "kvm", caps: ["spapr_tce", "spapr_tce_64", "multi_tce", "spapr_tce_vfio"], ram: 0x4000_0000n });
    big.apply({ kind: "add_phb", phb: phb() });
    expect(indirect(big, L0, 0x1000n, [0x2000_0000n])).toBe("H_SUCCESS");
    expect(indirect(big, L0, 0x1000n, [0x4000_0000n])).toBe(linux6 ? "H_PARAMETER" : "H_SUCCESS");
  });

  it("with a hardware table attached, a stuff or list past the end goes to QEMU on 6.x (seen on 6.12)", () => {
    const e = engine(profile, "kvm", ["spapr_tce", "multi_tce", "spapr_tce_vfio"]);
    e.apply({ kind: "plug", device: "vfio", name: "d0", phbIndex: 0 });
    const withHw = PROFILE_RULES[profile].kvm === KVM_LINUX_6 && e.placement(L0) === "kvm";
    put(e, L0, end, 0x8003n);
    expect(stuff(e, L0, end, 0n, 2n)).toBe("H_PARAMETER");
    expect(get(e, L0, end)).toBe(withHw || e.placement(L0) === "userspace" ? 0n : 0x8003n);
    put(e, L0, end, 0x8003n);
    expect(indirect(e, L0, end, [0n, 0n])).toBe("H_PARAMETER");
    expect(get(e, L0, end)).toBe(withHw || e.placement(L0) === "userspace" ? 0n : 0x8003n);
    expect(stuff(e, L0, end, 0n, 1n)).toBe("H_SUCCESS");
  });

  it("a LIOBN KVM does not know is answered by QEMU", () => {
    const e = engine(profile, "kvm", ["spapr_tce"], [{ name: "big", index: 0, dma32: 8n << 30n, pageShift: 12, ddw: true }]);
    expect(e.placement(L0)).toBe("userspace");
    expect(put(e, L0, 0x1001n, 0x12340007n)).toBe("H_SUCCESS");
    expect(put(e, 0x80000099n, 0n, 3n)).toBe("H_PARAMETER");
  });
});
