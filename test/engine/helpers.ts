import { Engine } from "../../src/engine/engine.js";
import type { Capability, HcallRc, Operation, Outcome, PhbConfig, ProfileName } from "../../src/engine/types.js";
import { liobnOf } from "../../src/engine/types.js";
import { PROFILE_NAMES } from "../../src/profile-names.js";

export const L0 = liobnOf(0, 0);
export const L1 = liobnOf(0, 1);
export const GIB = 1n << 30n;
export const TIB = 1n << 40n;
export const DDW_BASE = 1n << 59n;

export function phb(index = 0, options: Partial<PhbConfig> = {}): PhbConfig {
  return { name: `phb${index}`, index, dma32: GIB, pageShift: 12, ddw: true, ...options };
}

/** An engine with PHBs added: `engine("qemu-7.2", "kvm", ["spapr_tce"])`. */
export function engine(profile: ProfileName, accel: "kvm" | "tcg" = "tcg", caps: Capability[] = [], phbs: PhbConfig[] = [phb()]): Engine {
  const e = new Engine(profile, { accel, caps });
  for (const p of phbs) e.apply({ kind: "add_phb", phb: p });
  return e;
}

export function rc(outcome: Outcome): HcallRc | string {
  return outcome.kind === "hcall" || outcome.kind === "rtas" ? outcome.code : outcome.kind;
}

export const put = (e: Engine, liobn: bigint, ioba: bigint, tce: bigint) => rc(e.apply({ kind: "put_tce", liobn, ioba, tce }));
export const stuff = (e: Engine, liobn: bigint, ioba: bigint, tce: bigint, count: bigint) =>
  rc(e.apply({ kind: "stuff_tce", liobn, ioba, tce, count }));
export const indirect = (e: Engine, liobn: bigint, ioba: bigint, tces: bigint[], listAddress = 0x10000n) =>
  rc(e.apply({ kind: "put_tce_indirect", liobn, ioba, tces, listAddress }));
export function get(e: Engine, liobn: bigint, ioba: bigint): bigint | string {
  const o = e.apply({ kind: "get_tce", liobn, ioba });
  return o.kind === "hcall" && o.code === "H_SUCCESS" ? o.value! : rc(o);
}
export const plug = (e: Engine, name: string, device: "vfio" | "emulated" = "vfio", phbIndex = 0) =>
  e.apply({ kind: "plug", device, name, phbIndex });
export const unplug = (e: Engine, name: string) => e.apply({ kind: "unplug", name });
export function dma(e: Engine, device: string, access: "read" | "write", ioba: bigint): bigint | "fault" {
  const o = e.apply({ kind: "dma", device, access, ioba });
  return o.kind === "dma" && o.address !== undefined ? o.address : "fault";
}
export const apply = (e: Engine, op: Operation) => e.apply(op);
/** Every profile, from its one definition. */
export const PROFILES: readonly ProfileName[] = PROFILE_NAMES;
export const FIXED: readonly ProfileName[] = PROFILE_NAMES.filter((p) => p !== "pre-fix");
