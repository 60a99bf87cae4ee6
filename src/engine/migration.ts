// Migration: the machine's IOMMU state serialised to JSON, checked against the stream's schema,
// and loaded into a fresh machine of the same profile. Placement is decided afresh there.
import { migrationSchema } from "../schema/migration.js";
import { validator } from "../schema/validate.js";
import { Machine } from "./machine.js";
import { PROFILES } from "./profiles.js";
import type { Capability, MachineConfig, ProfileName } from "./types.js";
import { hex } from "../values.js";

/** [first index, TCE] or [first index, TCE, count]. */
type Entry = [number, string] | [number, string, number];

export interface MigrationStream {
  version: 1;
  profile: ProfileName;
  machine: { accel: "kvm" | "tcg"; caps: Capability[]; ram?: string };
  phbs: {
    name: string;
    index: number;
    dma32: string;
    pageShift: number;
    ddw: boolean;
    windows: { window: number; busOffset: string; pageShift: number; entryCount: string; entries: Entry[] }[];
    devices: { name: string; kind: "emulated" }[];
  }[];
}

const validStream = validator<MigrationStream>(migrationSchema);

/** The outgoing side: mapped entries only, in index order so the stream is deterministic. */
export function save(machine: Machine): MigrationStream {
  return {
    version: 1,
    profile: machine.profile.name,
    machine: { accel: machine.config.accel, caps: [...machine.config.caps], ...(machine.config.ram !== undefined ? { ram: `0x${machine.config.ram.toString(16)}` } : {}) },
    phbs: [...machine.phbs.values()].map((phb) => ({
      name: phb.config.name,
      index: phb.index,
      dma32: hex(phb.config.dma32),
      pageShift: phb.config.pageShift,
      ddw: phb.config.ddw,
      windows: phb.enabledTables().map((table) => ({
        window: table.window,
        busOffset: hex(table.busOffset),
        pageShift: table.pageShift,
        entryCount: hex(table.entryCount),
        // A run of equal entries travels as one item: [first index, TCE, count] (count 1 left out).
        entries: [...table.entries.runs()].map(([start, count, tce]): Entry => (count === 1 ? [start, hex(tce)] : [start, hex(tce), count])),
      })),
      devices: [...phb.devices].map(([name]) => ({ name, kind: "emulated" as const })),
    })),
  };
}

/**
 * The incoming side: a fresh machine of the same profile, built from a validated stream; on the
 * same host as `source` (its kernel rules and IOMMU), where it is given.
 */
export function load(json: string, source?: Machine): Machine {
  const stream: unknown = JSON.parse(json);
  if (!validStream(stream)) throw new Error(`invalid migration stream: ${validStream.explain(stream)}`);
  const config: MachineConfig = { accel: stream.machine.accel, caps: stream.machine.caps, ...(stream.machine.ram !== undefined ? { ram: BigInt(stream.machine.ram) } : {}) };
  const machine = source ? new Machine(source.profile, config, source.host) : new Machine(PROFILES[stream.profile], config);
  for (const saved of stream.phbs) {
    const phb = machine.addPhb({
      name: saved.name,
      index: saved.index,
      dma32: BigInt(saved.dma32),
      pageShift: saved.pageShift,
      ddw: saved.ddw,
    });
    machine.disableWindow(phb, 0);
    for (const device of saved.devices) machine.plug(device.kind, device.name, phb.index);
    for (const window of saved.windows) {
      const table = machine.enableWindow(phb, window.window, BigInt(window.busOffset), window.pageShift, BigInt(window.entryCount));
      for (const [index, tce, count] of window.entries) table.setRange(index, count ?? 1, BigInt(tce));
    }
  }
  return machine;
}

/** A real round trip through JSON text; refused while a vfio-pci device is present. */
export function migrate(machine: Machine): Machine | undefined {
  if (machine.vfioPresent) return undefined;
  return load(JSON.stringify(save(machine)), machine);
}
