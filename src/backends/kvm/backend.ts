// The kvm backend: a spec's guest (the one the qemu backend builds) run by QEMU under real KVM.
// On a POWER host with a usable /dev/kvm the host's own QEMU runs the guests with -accel kvm.
// Anywhere else KVM-HV runs nested: L0 is the host's QEMU under TCG, L1 a Debian kernel with
// kvm-hv and Debian's QEMU, L2 the guest. One L1 boot serves a batch; `jobs` L1s run at once.
// Both run the same batch script (l1.ts), so host steps work alike.
import { accessSync, constants } from "node:fs";
import type { CompiledSpec } from "../../compile/program.js";
import type { ProfileName } from "../../engine/types.js";
import { errorRun, runOf, type RunResult } from "../../verdict/outcome.js";
import type { Backend, BackendIdentity, Task } from "../backend.js";
import { buildGuest } from "../guest/guest.js";
import { existenceCalls } from "../real/calls.js";
import { readGuestOutput } from "../real/console.js";
import { judge } from "../real/judge.js";
import { busOf, planFor } from "../real/planner.js";
import { succeeded, type GuestPlan, type HostView, type MachineTraits } from "../real/traits.js";
import { hiddenCaps } from "./caps.js";
import { findImage, type L1Image } from "./image.js";
import { L1_VFIO_GROUPS, runDirect, runL1, type GuestJob, type L1Step } from "./l1.js";
import { buildNativeShim } from "./caps.js";
import { describeQemu, parseQemuVersion, QEMU_VERSIONS, versionMismatch, type QemuVersion } from "../qemu/versions.js";

export interface KvmOptions {
  /** The Debian kernel version L1 boots (a prefix is enough); default: the newest 6.12 64K image cached. */
  kernel?: string;
  timeoutMs?: number;
  /** The host's qemu-system-ppc64, L0. */
  binary?: string;
  bootTimeoutMs?: number;
  /** Where the L1 images are cached (default: $XDG_CACHE_HOME/tcespec/kvm). */
  cacheRoot?: string;
  /** The QEMU in L1 (an image built with 'tcespec kvm setup --qemu-version V'); its runs stand for profile qemu-V. */
  qemuVersion?: QemuVersion;
  /**
   * Run the guests on this host, no L1: the default on a POWER host with a usable /dev/kvm.
   * `{ accel: "tcg" }` exercises this path off POWER (the guests then run under TCG).
   */
  direct?: { accel: "kvm" | "tcg" } | false;
}

/** A POWER host whose own KVM can run the guests (Node calls ppc64le "ppc64"). */
export function directKvmHost(): boolean {
  if (process.arch !== "ppc64") return false;
  try {
    accessSync("/dev/kvm", constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Under KVM a table lives in the kernel or in QEMU: the guest prints a mark, and the host reads
 * which tables KVM held at that point from QEMU's trace of each new table (fd ≥ 0: KVM's).
 */
export const KVM_TRAITS: MachineTraits = kvmTraits(L1_VFIO_GROUPS.length, false, "7.2");

/**
 * Under real KVM; `vfio`: how many devices the host has for `plug vfio` (L1's edu devices, or
 * TCESPEC_VFIO_HOST's on POWER); `ddw`: its kernel gives a vfio-pci device windows of any size;
 * `qemu`: the guests' QEMU.
 */
function kvmTraits(vfio: number, ddw: boolean, qemu: QemuVersion): MachineTraits {
  return {
    // The guest's QEMU (in L1, or on the host) resets its machine, hotplugs edu devices and migrates it, over HMP.
    // …and unplugs a device with device_del: QEMU releases it at once, as the guest never
    // configured its DRC (docs/real-vfio.md).
    hostSteps: { reset: true, migrate: true, unplug: true },
    devices: true,
    dma: "probe",
    // QEMU 7.2's trace gives a notifier's window range; later ones name the table's region.
    notifiers: qemu === "7.2" ? "by-window" : "by-table",
    // Linux 6.12 as a pseries guest: one-level TCE tables of its 64K pages.
    ...(ddw ? {} : { vfioWindowEntries: 1n << 21n }),
    // vfio-pci devices, hotplugged and unplugged by the guest's QEMU at the step.
    vfio,
    // A `machine tcg` spec runs here only for its vfio-pci device (L1's QEMU under TCG); the
    // qemu backend runs the others, faster.
    refuse: (spec) =>
      spec.machine.accel !== "kvm" && !plugsVfio(spec)
        ? "machine tcg: the kvm backend runs guests under KVM, and under TCG only with a vfio-pci device (--backend qemu runs TCG)"
        : undefined,
    placement: (liobn) => {
      const calls = [...existenceCalls(liobn), { kind: "mark" as const }];
      return {
        calls,
        read: (answers) => {
          if (!answers.slice(0, calls.length - 1).some(succeeded)) return "absent";
          return (answers[calls.length - 1] as HostView).kvmTables.has(liobn) ? "kvm" : "userspace";
        },
      };
    },
  };
}

/** The spec plugs a vfio-pci device somewhere (as an action or inside an expectation). */
function plugsVfio(spec: CompiledSpec): boolean {
  return spec.steps.some((step) => {
    const operation = step.kind === "do" ? step.operation : step.probe.kind === "operation" ? step.probe.operation : undefined;
    return operation?.kind === "plug" && operation.device === "vfio";
  });
}

/**
 * Which host device (from 1) a vfio-pci plug on a PHB takes: one in the IOMMU group the PHB's
 * other devices are in, so they share QEMU's container as devices of one group do; for a PHB's
 * first device, one of a group no other PHB uses (a group is in one address space only). Failing
 * that, any free device.
 */
export function pickHost(groups: readonly number[], plugged: readonly { host: number; phbIndex: number }[], phbIndex: number): number {
  const free = groups.map((group, i) => ({ host: i + 1, group })).filter((d) => !plugged.some((p) => p.host === d.host));
  const groupOf = (host: number) => groups[host - 1]!;
  const here = plugged.filter((p) => p.phbIndex === phbIndex).map((p) => groupOf(p.host));
  const elsewhere = new Set(plugged.filter((p) => p.phbIndex !== phbIndex).map((p) => groupOf(p.host)));
  const pick = here.length > 0 ? free.find((d) => d.group === here[0]) : free.find((d) => !elsewhere.has(d.group));
  return (pick ?? free[0]!).host;
}

export class KvmBackend implements Backend {
  readonly name = "kvm";
  /** L1 runs Debian 12's QEMU 7.2, or bookworm-backports' 10.0.2. */
  readonly profiles: readonly ProfileName[];
  readonly real = true;
  private readonly options: Required<Omit<KvmOptions, "kernel" | "cacheRoot">> & Pick<KvmOptions, "kernel" | "cacheRoot">;
  readonly qemuVersion: QemuVersion;
  private image?: L1Image | { problem: string };
  private shim?: Promise<string | undefined>;
  /** What the last batch ran on, as its console said. */
  private software?: BackendIdentity;

  constructor(options: KvmOptions = {}) {
    this.options = {
      kernel: options.kernel,
      timeoutMs: options.timeoutMs ?? 20_000,
      binary: options.binary ?? process.env.TCESPEC_QEMU ?? "qemu-system-ppc64",
      bootTimeoutMs: options.bootTimeoutMs ?? 120_000,
      cacheRoot: options.cacheRoot,
      direct: options.direct ?? (directKvmHost() ? { accel: "kvm" } : false),
      qemuVersion: options.qemuVersion ?? "7.2",
    };
    this.qemuVersion = this.options.qemuVersion;
    this.profiles = [QEMU_VERSIONS[this.qemuVersion]];
  }

  /** Where the guests run: "direct" on this host, or "nested" in L1. */
  get mode(): "direct" | "nested" {
    return this.options.direct ? "direct" : "nested";
  }

  /** The cached L1 image, or why there is none. */
  l1Image(): L1Image | { problem: string } {
    this.image ??= findImage(this.options.kernel, this.options.cacheRoot, this.qemuVersion);
    return this.image;
  }

  async run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult> {
    return (await this.runBatch([{ spec, profile }], 1))[0]!;
  }

  identity(): BackendIdentity | undefined {
    return this.software;
  }

  /**
   * The software a batch says it ran on: the QEMU that judged must be of the version its runs stand
   * for (an L1 image is chosen by its QEMU's package; on a POWER host, the host's QEMU is whatever
   * it is). Why not, if not.
   */
  private judgedBy(software: { kernel: string; qemu: string } | undefined): string | undefined {
    if (!software) return "the batch did not say which kernel and QEMU ran it (no TCESPEC-SOFTWARE line)";
    const parsed = parseQemuVersion(software.qemu);
    if (!parsed) return `the guests' QEMU did not name its version: '${software.qemu.slice(0, 80)}'`;
    const where = this.options.direct ? this.options.binary : "L1's qemu-system-ppc64";
    this.software = {
      qemu: describeQemu(parsed),
      kernel: software.kernel,
      where: this.options.direct ? `${this.options.binary} on this host` : `L1 image ${(this.image as L1Image).dir}`,
    };
    return versionMismatch({ binary: where, ...parsed }, this.qemuVersion, where);
  }

  async runBatch(tasks: readonly Task[], jobs: number): Promise<RunResult[]> {
    const results: RunResult[] = new Array(tasks.length);
    const pending: { index: number; plan: GuestPlan; job: GuestJob }[] = [];
    const direct = this.options.direct;
    const image: L1Image | { problem: string } | undefined = direct ? undefined : this.l1Image();
    // On POWER: TCESPEC_VFIO_HOST names the host's devices bound to vfio-pci, comma-separated.
    const vfioHosts = direct ? (process.env.TCESPEC_VFIO_HOST ?? "").split(",").filter(Boolean) : undefined;
    // The IOMMU group of each host device: L1's are known; on POWER each is taken as its own.
    const groups = vfioHosts ? vfioHosts.map((_, i) => i) : L1_VFIO_GROUPS;
    const traits = kvmTraits(groups.length, Boolean(vfioHosts), this.qemuVersion);
    const needShim = direct && tasks.some(({ spec }) => spec.machine.accel === "kvm" && hiddenCaps(spec.machine.caps).length > 0);
    const shim = needShim ? await (this.shim ??= buildNativeShim(this.options.cacheRoot)) : undefined;
    tasks.forEach(({ spec, profile }, index) => {
      const base = { ...runOf(spec, profile, this.name), expectations: [] };
      const plan = planFor(spec, profile, traits);
      if ("unsupported" in plan)
        results[index] = {
          ...base,
          status: "unsupported",
          reason:
            direct && /plug vfio/.test(plan.unsupported)
              ? `${plan.unsupported} (set TCESPEC_VFIO_HOST to PCI devices bound to vfio-pci, comma-separated)`
              : plan.unsupported,
        };
      else if (image && "problem" in image) results[index] = { ...base, status: "error", reason: image.problem };
      else {
        // Capabilities are KVM's: a TCG guest has none to hide.
        const tcg = spec.machine.accel !== "kvm";
        const hideCaps = tcg ? [] : hiddenCaps(spec.machine.caps);
        if (hideCaps.length > 0 && (direct ? !shim : !(image as L1Image).manifest.shim))
          results[index] = {
            ...base,
            status: "unsupported",
            reason: direct
              ? "caps: no capability shim for this host (install a C compiler: cc)"
              : "caps: the L1 image has no capability shim (install gcc-powerpc64le-linux-gnu, then 'tcespec kvm setup')",
          };
        else {
          const calls = plan.steps.flatMap((s) => s.calls);
          // What L1's QEMU does at each host step: vfio-pci devices in and out (pickHost says which).
          const plugged = new Map<string, { host: number; phbIndex: number }>();
          const steps = calls.flatMap((call): L1Step[] => {
            if (call.kind === "plug") {
              const where = { name: call.device.name, bus: busOf(call.device.phbIndex), slot: call.device.slot, phbIndex: call.device.phbIndex };
              if (!call.device.vfio) return [{ kind: "add", ...where }];
              const host = pickHost(groups, [...plugged.values()], call.device.phbIndex);
              plugged.set(call.device.name, { host, phbIndex: call.device.phbIndex });
              return [{ kind: "plug", ...where, host }];
            }
            if (call.kind === "host" && call.action === "unplug") {
              plugged.delete(call.device!);
              return [{ kind: "unplug", name: call.device! }];
            }
            if (call.kind === "host" && call.action === "reset") return [{ kind: "reset" }];
            if (call.kind === "host" && call.action === "migrate") return [{ kind: "migrate" }];
            return [];
          });
          pending.push({ index, plan, job: { elf: buildGuest(calls), args: plan.args, hideCaps, steps, ...(tcg ? { accel: "tcg" as const } : {}) } });
        }
      }
    });
    if (pending.length === 0 || (image && "problem" in image)) return results;
    const machines = Math.max(1, Math.min(jobs, pending.length));
    const size = Math.ceil(pending.length / machines);
    const batches = Array.from({ length: machines }, (_, m) => pending.slice(m * size, (m + 1) * size)).filter((b) => b.length > 0);
    await Promise.all(
      batches.map(async (batch) => {
        const batchJobs = batch.map((p) => p.job);
        const answers = direct
          ? await runDirect(batchJobs, { binary: this.options.binary, timeoutMs: this.options.timeoutMs, accel: direct.accel, shim, vfioHosts })
          : await runL1(image as L1Image, batchJobs, this.options);
        const wrong = "error" in answers ? undefined : this.judgedBy(answers.software);
        batch.forEach((p, k) => {
          const { spec, profile } = tasks[p.index]!;
          const base = { ...runOf(spec, profile, this.name), expectations: [] };
          const answer = "error" in answers ? answers : wrong ? { error: wrong } : answers.results[k]!;
          if ("error" in answer) {
            results[p.index] = { ...base, status: "error", reason: answer.error };
            return;
          }
          try {
            const judged = judge(spec, profile, p.plan, readGuestOutput(answer.body), this.name);
            results[p.index] = typeof judged === "string" ? { ...base, status: "error", reason: judged } : judged;
          } catch (error) {
            results[p.index] = errorRun(spec, profile, this.name, error);
          }
        });
      }),
    );
    return results;
  }
}
