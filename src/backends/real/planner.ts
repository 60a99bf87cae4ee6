// A compiled spec as a real machine runs it. The evaluator walks the spec twice: once against
// a planner that turns each operation and probe into guest calls (and the PHBs into QEMU
// options), and once, after the machine ran, against the answers the guest printed (judge.ts).
// So the order of the calls, the `when` skips and the bare actions are the evaluator's, on every
// backend.
import type { CompiledSpec } from "../../compile/program.js";
import type { Pos } from "../../compile/ast.js";
import type { Outcome, PhbConfig, ProfileName } from "../../engine/types.js";
import { DEFAULT_DMA32, DEFAULT_GUEST_RAM } from "../../engine/types.js";
import { phbOfLiobn, TCE_RW } from "../../papr.js";
import { hex } from "../../values.js";
import { evaluate, type Target } from "../../verdict/evaluate.js";
import { Engine } from "../../engine/engine.js";
import { KERNEL_RULES } from "../../engine/kvm.js";
import { HOSTS } from "../../engine/host.js";
import type { EduDevice } from "../guest/guest.js";
import { VfioProbes, type ProbeAnswer } from "../guest/vfio-probe.js";
import { callFor, isolateCall } from "./calls.js";
import { hostLimits } from "./limits.js";
import { dmaOutcome, hardwareStep, probeStep } from "./probes.js";
import type { GuestPlan, HostView, MachineTraits, PlannedStep } from "./traits.js";

/** An object with the key only where the value is defined (outcomes leave absent fields out). */
const pick = <T, K extends keyof T>(from: T, key: K): Partial<Pick<T, K>> => (from[key] === undefined ? {} : ({ [key]: from[key] } as Pick<T, K>));

const PHB_ID = (index: number) => `tcespec-phb${index}`;

/** The PCI bus of PHB i: the machine's own PHB 0 has QEMU's pci.0; the others are named by tcespec. */
export function busOf(phbIndex: number): string {
  return phbIndex === 0 ? "pci.0" : `${PHB_ID(phbIndex)}.0`;
}

function phbArgs(phbs: PhbConfig[]): string[] | string {
  const args: string[] = [];
  for (const phb of phbs) {
    if (phb.pageShift !== 12) return `phb ${phb.name} page ${1n << BigInt(phb.pageShift)}: QEMU's default window always uses 4K pages`;
    const props = `dma_win_size=${phb.dma32},ddw=${phb.ddw ? "on" : "off"}`;
    // PHB 0 is the machine's own; its properties come from -global (a -device would collide).
    if (phb.index === 0) {
      if (phb.dma32 !== DEFAULT_DMA32) args.push("-global", `spapr-pci-host-bridge.dma_win_size=${phb.dma32}`);
      if (!phb.ddw) args.push("-global", "spapr-pci-host-bridge.ddw=off");
    } else args.push("-device", `spapr-pci-host-bridge,index=${phb.index},id=${PHB_ID(phb.index)},${props}`);
  }
  return args;
}

/**
 * The slot a new device takes on its PHB's bus: the lowest from 1 up that no device present there
 * holds (one unplugged earlier leaves its slot free; counting the devices, a plug after unplugging
 * any but the last collided: "slot 2 already occupied").
 */
export function freeSlot(devices: ReadonlyMap<string, EduDevice>, phbIndex: number): number {
  const taken = new Set([...devices.values()].filter((d) => d.phbIndex === phbIndex).map((d) => d.slot));
  let slot = 1;
  while (taken.has(slot)) slot++;
  return slot;
}

/**
 * Which host device (from 1) a vfio-pci plug on a PHB takes, the host's devices being in `groups`
 * (traits' vfioGroups): one in the IOMMU group the PHB's other devices are in, so they share QEMU's
 * container as devices of one group do, else (and for a PHB's first device) one of a group no
 * other PHB uses (a group is in one address space only: QEMU refuses another, "group N used in
 * multiple address spaces"). None if no free device is of such a group.
 */
export function pickHost(groups: readonly number[], plugged: readonly { host: number; phbIndex: number }[], phbIndex: number): number | undefined {
  const free = groups.map((group, i) => ({ host: i + 1, group })).filter((d) => !plugged.some((p) => p.host === d.host));
  const groupOf = (host: number) => groups[host - 1]!;
  const here = plugged.filter((p) => p.phbIndex === phbIndex).map((p) => groupOf(p.host));
  const elsewhere = new Set(plugged.filter((p) => p.phbIndex !== phbIndex).map((p) => groupOf(p.host)));
  const allowed = free.filter((d) => !elsewhere.has(d.group));
  return (allowed.find((d) => d.group === here[0]) ?? allowed[0])?.host;
}

/** The highest slot a device is plugged in: a PCI bus has 32 (0 to 31), and tcespec leaves slot 0 free. */
const MAX_SLOT = 31;

/** The plan for one spec under one profile, in the evaluator's own order. */
export function planFor(spec: CompiledSpec, profile: ProfileName, traits: MachineTraits): GuestPlan | { unsupported: string } {
  const refused = traits.refuse(spec);
  if (refused) return { unsupported: refused };
  const phbs = new Map<number, PhbConfig>();
  const devices = new Map<string, EduDevice>();
  const steps: PlannedStep[] = [];
  const probes = new VfioProbes(phbs);
  const vfioPhbs = new Set<number>();
  /** The PHBs whose tables' notifiers the spec asks about. */
  const notifierPhbs = new Set<number>();
  let unsupported: string | undefined;
  const note = (planned: PlannedStep | string, at: Pos) => {
    if (typeof planned === "string") unsupported ??= `line ${at.line}: ${planned}`;
    else steps.push({ ...planned, at: { line: at.line, column: at.column } });
  };
  // The model beside the plan, for what the guest will do to its host that no answer shows.
  const model = new Engine(profile, spec.machine, traits.kernelRules && KERNEL_RULES[traits.kernelRules], traits.host && HOSTS[traits.host]);
  const planner: Target = {
    apply: (operation, at) => {
      const answer = model.apply(operation);
      // What the host cannot give, judged against the machine as it was before this operation.
      for (const limit of hostLimits(operation, spec, traits, probes, devices, phbs)) note(limit, at);
      // The windows as the model says they are after it: an RTAS call refused (a remove_window on a
      // PHB with `ddw off`) leaves them as they were. (Found by the explorer: a default window of
      // 8G, refused removal, then a vfio-pci plug next to it, which QEMU 7.2 on pseries aborts at.)
      if (answer.kind !== "rtas" || answer.code === "RTAS_OK") probes.note(operation);
      if (operation.kind === "add_phb") phbs.set(operation.phb.index, operation.phb);
      else if ((operation.kind === "reset" || operation.kind === "migrate") && traits.hostSteps[operation.kind]) {
        // Devices are set up again after a reset, and emulated ones after a migration (see GuestCall's `reconfigure`).
        const reconfigure = [...devices.values()].filter((d) => operation.kind === "reset" || !d.vfio);
        note({ calls: [{ kind: "host", action: operation.kind, ...(reconfigure.length > 0 ? { reconfigure } : {}) }], read: ([o]) => o as Outcome }, at);
      }
      else if (operation.kind === "plug" && freeSlot(devices, operation.phbIndex) > MAX_SLOT)
        note(`plug: a device in slot ${MAX_SLOT + 1} of a PHB: a PCI bus has slots 0 to ${MAX_SLOT}, and tcespec plugs from slot 1, so ${MAX_SLOT} devices to a PHB at most`, at);
      else if (operation.kind === "plug" && operation.device === "emulated" && traits.devices) {
        const device = { name: operation.name, phbIndex: operation.phbIndex, slot: freeSlot(devices, operation.phbIndex) };
        devices.set(operation.name, device);
        note({ calls: [{ kind: "plug", device }], read: ([o]) => o as Outcome }, at);
      } else if (operation.kind === "plug" && operation.device === "vfio" && traits.vfio) {
        const vfioDevices = [...devices.values()].filter((d) => d.vfio);
        const plugged = vfioDevices.length;
        const present = vfioDevices.flatMap((d) => (d.host !== undefined ? [{ host: d.host, phbIndex: d.phbIndex }] : []));
        const groups = traits.vfioGroups;
        const host = groups ? pickHost(groups, present, operation.phbIndex) : undefined;
        // Where the host puts a PHB's devices in one group (vfioPerPhb), a device of another group would get a container of its own.
        const neighbour = present.find((d) => d.phbIndex === operation.phbIndex);
        const mixed = groups && traits.vfioPerPhb !== undefined && host !== undefined && neighbour !== undefined && groups[host - 1] !== groups[neighbour.host - 1];
        if (plugged >= traits.vfio)
          note(`plug vfio: the host has ${traits.vfio === 1 ? "one vfio-pci device, and it is" : `${traits.vfio} vfio-pci devices, and they are all`} plugged already`, at);
        else if (groups && host === undefined)
          // Found by explore on pseries: a plug on a third PHB after two others ("group 0 used in multiple address spaces").
          note(`plug vfio: no free device of the host's is in an IOMMU group this PHB may use (the host's groups: ${groups.join(", ")}; a group serves one PHB, and QEMU refuses a second: "group used in multiple address spaces")`, at);
        else if (mixed)
          note(`plug vfio: the PHB's device is in IOMMU group ${groups[neighbour.host - 1]}, whose devices are all plugged, and a device of another group would get a container and a notifier of its own`, at);
        else {
          const device = { name: operation.name, phbIndex: operation.phbIndex, slot: freeSlot(devices, operation.phbIndex), vfio: true, ...(host !== undefined ? { host } : {}), ...(traits.vfioDmaMs !== undefined ? { dmaMs: traits.vfioDmaMs } : {}) };
          // The PHB's first vfio-pci device: the probes' scratch entry goes in first, and the plug's replay carries it.
          const first = ![...devices.values()].some((d) => d.vfio && d.phbIndex === operation.phbIndex);
          vfioPhbs.add(operation.phbIndex);
          devices.set(operation.name, device);
          const calls = [...(first ? [probes.prePlug(operation.phbIndex)] : []), { kind: "plug" as const, device }];
          note({ calls, read: (answers) => answers[answers.length - 1] as Outcome }, at);
        }
      } else if (operation.kind === "unplug" && devices.has(operation.name) && (devices.get(operation.name)!.vfio ? traits.vfio > 0 : traits.hostSteps.unplug)) {
        const isolate = isolateCall(devices.get(operation.name)!);
        devices.delete(operation.name);
        note({ calls: [isolate, { kind: "host", action: "unplug", device: operation.name }], read: ([, o]) => o as Outcome }, at);
      } else if (operation.kind === "dma" && devices.has(operation.device) && !devices.get(operation.device)!.vfio && traits.dma === "trace") {
        const { access, ioba } = operation;
        note({ calls: [{ kind: "dma", device: devices.get(operation.device)!, access, ioba }], read: ([view]) => dmaOutcome(view as HostView, access, ioba) }, at);
      }
      else if (operation.kind === "dma" && devices.has(operation.device)) {
        const device = devices.get(operation.device)!;
        if (!probes.hasDefaultWindow(device.phbIndex)) note("dma: the probe's scratch entry needs the PHB's default window, which the spec removed", at);
        else {
          const call = probes.probe(device, operation.access, operation.ioba);
          note({
            calls: [call],
            read: ([answer]) => {
              const landing = probes.landing(call, answer as ProbeAnswer);
              return { kind: "dma", ...pick(landing, "address"), ...pick(landing, "unseen") };
            },
          }, at);
        }
      } else {
        const call = callFor(operation);
        note(typeof call === "string" ? call : { calls: [call], read: ([o]) => o as Outcome }, at);
      }
      return { kind: "done" };
    },
    observe: (probe, at) => {
      if (probe.kind === "notifiers") notifierPhbs.add(phbOfLiobn(probe.liobn));
      note(probe.kind === "hw-entry" || probe.kind === "hw-state" ? hardwareStep(probe, devices, probes, traits) : probeStep(probe, traits), at);
      return "";
    },
  };
  evaluate(spec, profile, planner, "plan", false, traits.kernelRules, traits.host);
  if (unsupported) return { unsupported };
  // QEMU 7.2's trace names a notifier's window range only, the same on every PHB: a count is a
  // PHB's only where no other PHB has a vfio-pci device (found by tcespec explore: a notifier on
  // phb0's default window counted for another PHB's, whose range also starts at 0).
  const others = [...notifierPhbs].some((asked) => [...vfioPhbs].some((phb) => phb !== asked));
  if (traits.notifiers === "by-window" && notifierPhbs.size > 0 && others)
    return {
      unsupported:
        vfioPhbs.size > 1
          ? "notifiers(…): QEMU 7.2's trace of a notifier names its window's range, not its PHB, and this spec has vfio-pci devices on two PHBs"
          : "notifiers(…): QEMU 7.2's trace of a notifier names its window's range, not its PHB, and the vfio-pci device is on another PHB than the one asked about",
    };
  const args = phbArgs([...phbs.values()]);
  if (typeof args === "string") return { unsupported: args };
  // The guest's RAM is the spec's (the model's default when it does not say), unless a DMA probe's
  // candidates lie above it and no answer depends on the RAM.
  const ram = spec.machine.ram ?? DEFAULT_GUEST_RAM;
  if (traits.maxGuestRam !== undefined && ram > traits.maxGuestRam)
    return { unsupported: `machine … ram ${ram >> 20n}M: a guest here has ${traits.maxGuestRam >> 20n}M at most` };
  const finished = probes.finish(ram, traits.maxGuestRam);
  if ("unsupported" in finished) return finished;
  if (finished.ram > ram) {
    const why = `dma: a probe looks at guest RAM up to ${hex(finished.ram - 1n)}, more than the spec's ${ram >> 20n}M`;
    if (spec.machine.ram !== undefined) return { unsupported: `${why} (ram ${ram >> 20n}M)` };
    const dependent = ramDependent(spec, ram, finished.ram);
    if (dependent !== undefined) return { unsupported: `${why}, and KVM's answer to ${dependent} depends on it` };
  }
  args.push("-m", `${finished.ram >> 20n}M`);
  const overrun = model.hostOverrun();
  return {
    steps,
    args,
    ...(traits.kernelRules ? { kernel: traits.kernelRules } : {}),
    ...(traits.host ? { host: traits.host } : {}),
    ...(overrun ? { spoilsHost: `the host kernel wrote past a TCE table (${overrun})` } : {}),
  };
}

/**
 * The first H_PUT_TCE_INDIRECT of a KVM spec with a TCE whose address lies between two RAM sizes:
 * KVM translates each TCE's address into guest RAM, so its answer is not the same for both.
 */
function ramDependent(spec: CompiledSpec, low: bigint, high: bigint): string | undefined {
  if (spec.machine.accel !== "kvm") return undefined;
  for (const step of spec.steps) {
    const operation = step.kind === "do" ? step.operation : step.probe.kind === "operation" ? step.probe.operation : undefined;
    if (operation?.kind !== "put_tce_indirect") continue;
    if (operation.tces.some((tce) => (tce & ~TCE_RW) >= low && (tce & ~TCE_RW) < high)) return `the put_tce_indirect at line ${step.line}`;
  }
  return undefined;
}

