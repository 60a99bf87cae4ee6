// The guest calls an operation makes on a real machine: PAPR hypercalls and RTAS calls, numbered
// as papr.ts says.
import type { Operation } from "../../engine/types.js";
import { buidOf, DR_ISOLATED, DR_ISOLATION_STATE, HCALL, pciDrcIndex, RTAS_TOKENS, WINDOW_BASES } from "../../papr.js";
import { log2 } from "../../values.js";
import { unreachable } from "../../unreachable.js";
import type { EduDevice, GuestCall } from "../guest/guest.js";

export const get = (liobn: bigint, ioba: bigint, saveValue = false): GuestCall => ({
  kind: "hcall",
  opcode: HCALL.H_GET_TCE,
  args: [liobn, ioba],
  saveValue,
});
export const put = (liobn: bigint, ioba: bigint, tce: bigint): GuestCall => ({ kind: "hcall", opcode: HCALL.H_PUT_TCE, args: [liobn, ioba, tce] });

/** The window bases a table may have: a placement probe asks each whether a window is there. */
export function existenceCalls(liobn: bigint): GuestCall[] {
  return WINDOW_BASES.map((base) => get(liobn, base));
}

export function buidArgs(phbIndex: number): bigint[] {
  const buid = buidOf(phbIndex);
  return [0n, buid >> 32n, buid & 0xffffffffn];
}


/**
 * The guest lets go of a device's slot before the host unplugs it. A device hotplugged into a
 * machine since its last reset has a DRC in "power on", and device_del releases it at once; a reset
 * makes it "configured" (spapr_drc_reset: as if coldplugged), and then device_del waits for the
 * guest to isolate it. Isolating a "configured" DRC makes it "power on"; one in "power on" already
 * is left as it is (drc_isolate_physical): so the guest always isolates first.
 */
export function isolateCall(device: EduDevice): GuestCall {
  return { kind: "rtas", token: RTAS_TOKENS.setIndicator, args: [DR_ISOLATION_STATE, pciDrcIndex(device.phbIndex, device.slot), DR_ISOLATED], nret: 1 };
}

/** The call an operation makes, or why the guest cannot make it here. */
export function callFor(operation: Operation): GuestCall | string {
  switch (operation.kind) {
    case "put_tce":
      return { kind: "hcall", opcode: HCALL.H_PUT_TCE, args: [operation.liobn, operation.ioba, operation.tce] };
    case "get_tce":
      return { kind: "hcall", opcode: HCALL.H_GET_TCE, args: [operation.liobn, operation.ioba] };
    case "stuff_tce":
      return { kind: "hcall", opcode: HCALL.H_STUFF_TCE, args: [operation.liobn, operation.ioba, operation.tce, operation.count] };
    case "put_tce_indirect":
      return {
        kind: "hcall",
        opcode: HCALL.H_PUT_TCE_INDIRECT,
        args: [operation.liobn, operation.ioba, 0n, BigInt(operation.tces.length)],
        list: { tces: operation.tces, offsetInPage: operation.listAddress & 0xfffn },
      };
    case "create_window":
      return {
        kind: "rtas",
        token: RTAS_TOKENS.create,
        args: [...buidArgs(operation.phbIndex), BigInt(log2(operation.pageSize)), BigInt(log2(operation.windowSize))],
        nret: 4,
      };
    case "remove_window":
      return { kind: "rtas", token: RTAS_TOKENS.remove, args: [operation.liobn], nret: 1 };
    case "reset_windows":
      return { kind: "rtas", token: RTAS_TOKENS.reset, args: buidArgs(operation.phbIndex), nret: 1 };
    case "query_window":
      return { kind: "rtas", token: RTAS_TOKENS.query, args: buidArgs(operation.phbIndex), nret: 5 };
    case "plug":
      return `plug ${operation.device}: this backend does not hotplug ${operation.device === "vfio" ? "a vfio-pci" : "an emulated"} device yet`;
    case "unplug":
      return "unplug: the guest's side of hot-unplug (the DRC protocol) is not driven yet";
    case "dma":
      return "dma: this backend has no such device to make a DMA";
    case "reset":
      return "reset: this backend does not reset the machine at a step yet";
    case "migrate":
      return "migrate: this backend does not migrate the machine at a step yet";
    case "add_phb":
      return "internal: add_phb is configuration";
    default:
      return unreachable(operation);
  }
}

