// The kvm backend: a spec's guest (the one the qemu backend builds) run by QEMU under real KVM.
// On a POWER host with a usable /dev/kvm the host's own QEMU runs the guests with -accel kvm.
// Anywhere else KVM-HV runs nested: L0 is the host's QEMU under TCG, L1 a Debian kernel with
// kvm-hv and Debian's QEMU, L2 the guest. One L1 boot serves a batch; `jobs` L1s run at once.
// Both run the same batch script (l1.ts), so host steps work alike. The target is its traits and
// its launcher; the pipeline is real/pipeline.ts.
import { accessSync, constants, readFileSync } from "node:fs";
import type { CompiledSpec } from "../../compile/program.js";
import type { BackendIdentity } from "../backend.js";
import { existenceCalls } from "../real/calls.js";
import { RealBackend, type GuestJob, type Launched, type Launcher } from "../real/pipeline.js";
import { succeeded, type HostView, type MachineTraits } from "../real/traits.js";
import { hiddenCaps } from "./caps.js";
import { hostKernelCrashed, type GuestResult, type Software } from "../real/console.js";
import { findImage, initramfsToBoot, type L1Image } from "./image.js";
import { runDirect, runL1, type BatchJob, type BatchResult } from "./l1.js";
import { guestCost, HandOut, lanesFor } from "./lanes.js";
import { L1_HOSTS, PSERIES, withIdleSkips, type L0Program, type L1Host } from "./hosts.js";
import type { HostName } from "../../profile-names.js";
import { buildNativeShim } from "./caps.js";
import { describeQemu, parseQemuVersion, QEMU_VERSIONS, versionMismatch, type QemuVersion } from "../qemu/versions.js";
import { baseFamily, buildProfile, describeBuild, type QemuBuild } from "../qemu/build.js";
import { bannerOf, describeKernel, type KernelBuild } from "./kernel.js";
import type { KernelRulesName } from "../../profile-names.js";
import type { ProfileName } from "../../engine/types.js";
import { PROFILES } from "../../engine/profiles.js";

export interface KvmOptions {
  /** The Debian kernel version L1 boots (a prefix is enough); default: the newest 6.12 64K image cached. */
  kernel?: string;
  /**
   * A kernel built by tcespec ('tcespec kvm kernel build'): L1 boots it, with the image's initramfs
   * (of the default Debian kernel) and nothing to load (its drivers are built in).
   */
  hostKernel?: KernelBuild;
  /** The host kernel rules the runs stand for (`when kernel …`): a kernel build's; in L1 on Debian's kernel, linux-6 under every profile; on a POWER host, each profile's own. */
  kernelRules?: KernelRulesName;
  timeoutMs?: number;
  /** Without `timeoutMs`: the host's own per-spec timeout times this (BackendOptions'). */
  timeoutScale?: number;
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
  /**
   * A QEMU built by tcespec: its ppc64el binary replaces the guests' QEMU (appended to L1's
   * initramfs, or run directly on a POWER host); L1's image is its base version's.
   */
  build?: QemuBuild;
  /** The profile the runs stand for (a build's: default, its base version's). */
  standsFor?: ProfileName;
  /** The machine L1 is, off POWER (hosts.ts): a pseries guest running KVM-HV nested (default), or a PowerNV server running it on bare metal. */
  host?: HostName;
  /** L0 skips L1's idle time (hosts.ts withIdleSkips): where L1 waits more than it works, as the explorer's guests do for DMA. */
  idleSkips?: boolean;
}

/**
 * The L1 host the options name with its L0 (none where the guests run on this host, `direct`),
 * skipping L1's idle time if they ask and that L0 leaves L1 any to skip.
 */
function l1HostOf(options: KvmOptions, direct: boolean): { host: L1Host; l0?: L0Program | { problem: string } } {
  const host = L1_HOSTS[options.host ?? "pseries"];
  if (direct) return { host };
  const l0 = host.l0(options.binary ?? process.env.TCESPEC_QEMU);
  return { host: options.idleSkips ? withIdleSkips(host, "problem" in l0 ? undefined : l0) : host, l0 };
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
export const KVM_TRAITS: MachineTraits = kvmTraits(PSERIES.groups, PSERIES, "7.2");

/**
 * Under real KVM; `vfio`: how many devices the host has for `plug vfio` (L1's edu devices, or
 * TCESPEC_VFIO_HOST's on POWER); `l1`: the machine L1 is (undefined: the guests run on this POWER
 * host, whose kernel gives a vfio-pci device windows of any size and whose RAM is its own);
 * `qemu`: the guests' QEMU.
 */
export function kvmTraits(groups: readonly number[], l1: L1Host | undefined, qemu: QemuVersion, l0?: L0Program): MachineTraits {
  return {
    // How long L0's edu devices (L1's vfio-pci devices) take for a DMA, where L0 was told.
    ...(l0?.eduDmaMs !== undefined ? { vfioDmaMs: l0.eduDmaMs } : {}),
    // The guest's QEMU (in L1, or on the host) resets its machine, hotplugs edu devices and migrates it, over HMP.
    // …and unplugs a device with device_del: QEMU releases it at once, as the guest never
    // configured its DRC (docs/real-vfio.md).
    hostSteps: { reset: true, migrate: true, unplug: true },
    devices: true,
    dma: "probe",
    // QEMU 7.2's trace gives a notifier's window range; later ones name the table's region.
    notifiers: qemu === "7.2" ? "by-window" : "by-table",
    // What L1's IOMMU lets a vfio-pci device's window be (hosts.ts).
    ...(l1?.limits ?? {}),
    // L1 has 4 GiB (more for a larger guest, on a host that gives one): a table QEMU holds 2^28
    // entries at most. On a POWER host, what the host has.
    ...(l1 ? { maxGuestRam: l1.maxGuestRam, userspaceTableEntries: 1n << 28n } : {}),
    // vfio-pci devices, hotplugged and unplugged by the guest's QEMU at the step; the planner
    // places each plug on one of them by their IOMMU groups.
    vfio: groups.length,
    vfioGroups: groups,
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

/** What the kvm target makes of a spec: the capabilities its QEMU must not see, and whether its guest runs under TCG. */
export interface KvmJob {
  hideCaps: number[];
  accel?: "tcg";
}

/**
 * Real KVM: guests in batches, one L1 boot (or one shell on a POWER host) per batch, `lanes` at
 * once; host steps over HMP by the batch script (l1.ts).
 */
export class KvmLauncher implements Launcher<KvmJob> {
  readonly traits: MachineTraits;
  readonly options: Required<Omit<KvmOptions, "kernel" | "cacheRoot" | "build" | "standsFor" | "hostKernel" | "kernelRules" | "host" | "timeoutScale" | "idleSkips">> &
    Pick<KvmOptions, "kernel" | "cacheRoot" | "build" | "standsFor" | "hostKernel" | "kernelRules">;
  /** The machine L1 is (undefined: the guests run on this POWER host). */
  readonly l1?: L1Host;
  /** L0's program (`--qemu` as given, else the host's own: hosts.ts), resolved once; undefined on a POWER host. */
  private readonly l0?: L0Program | { problem: string };
  private image?: L1Image | { problem: string };
  private shim?: Promise<string | undefined>;
  /** What the last batch ran on, as its console said. */
  private software?: BackendIdentity;
  /** On POWER: TCESPEC_VFIO_HOST names the host's devices bound to vfio-pci, comma-separated. */
  private readonly vfioHosts?: string[];
  /** The IOMMU group of each host device: L1's are known; on POWER each is taken as its own. */
  private readonly groups: readonly number[];

  constructor(options: KvmOptions = {}) {
    const direct = options.direct ?? (directKvmHost() ? { accel: "kvm" as const } : false);
    const { host, l0 } = l1HostOf(options, direct !== false);
    this.options = {
      kernel: options.kernel,
      hostKernel: options.hostKernel,
      kernelRules: options.kernelRules ?? options.hostKernel?.manifest.rules,
      // The host's own (hosts.ts); KASAN checks every access L1's kernel makes (under TCG): a guest's vfio plugs and unplugs take longer there.
      timeoutMs: options.timeoutMs ?? (options.timeoutScale ?? 1) * Math.max(options.hostKernel?.manifest.kasan ? 60_000 : 0, host.timeoutMs),
      binary: options.binary ?? process.env.TCESPEC_QEMU ?? "qemu-system-ppc64",
      // KASAN checks every access L1's kernel makes, under TCG: its boot takes longer.
      bootTimeoutMs: options.bootTimeoutMs ?? (options.hostKernel?.manifest.kasan ? 300_000 : 120_000),
      cacheRoot: options.cacheRoot,
      direct,
      // A build runs in the image of its base version; one of a version tcespec has no image for, in 7.2's (bookworm's libraries, as its sysroot).
      qemuVersion: options.build ? (baseFamily(options.build.manifest.base) ?? "7.2") : (options.qemuVersion ?? "7.2"),
      build: options.build,
      standsFor: options.standsFor,
    };
    // L1 boots Debian's 6.x (or a build that says its rules): its KVM is 6.x's under every profile,
    // a build of an old QEMU standing for pre-fix included (its kernel WARNs as 6.x does). On a
    // POWER host the kernel is the host's, unknown: each profile's own.
    if (!this.options.kernelRules && !this.options.direct) this.options.kernelRules = "linux-6";
    if (this.options.build && this.options.direct) {
      const own = this.options.build.binaries.kvm;
      if (own) this.options.binary = own;
    }
    this.vfioHosts = this.options.direct ? (process.env.TCESPEC_VFIO_HOST ?? "").split(",").filter(Boolean) : undefined;
    this.askedHost = options.host;
    if (!this.options.direct) this.l1 = host;
    this.groups = this.vfioHosts ? this.vfioHosts.map((_, i) => i) : this.l1!.groups;
    // On a POWER host, the platform its kernel names: PowerNV on bare metal, pSeries in an LPAR
    // (KVM nested under PowerVM). Off POWER (the direct path exercised under TCG): PowerNV's.
    this.l0 = l0;
    const traits = { ...kvmTraits(this.groups, this.l1, this.options.qemuVersion, this.l0Program()), host: this.l1?.name ?? hostOfPlatform(ownPlatform()) ?? "powernv" };
    this.traits = this.options.kernelRules ? { ...traits, kernelRules: this.options.kernelRules } : traits;
  }

  /** L0's program where it could be had (problem() says why not). */
  private l0Program(): L0Program | undefined {
    return this.l0 && !("problem" in this.l0) ? this.l0 : undefined;
  }

  /** The cached L1 image, or why there is none (with a built kernel: the default kernel's image, for its initramfs). */
  l1Image(): L1Image | { problem: string } {
    this.image ??= findImage(this.options.hostKernel ? undefined : this.options.kernel, this.options.cacheRoot, this.options.qemuVersion);
    return this.image;
  }

  /** What L0 appends to the image's initramfs: a QEMU build, a built kernel's module lists. */
  private overlays(): string[] {
    return [this.options.build?.overlay, this.options.hostKernel?.overlay].filter((o): o is string => o !== undefined);
  }

  /** What L0 boots: the image, or its initramfs under a built kernel; compressed where it would not fit. */
  private async bootImage(): Promise<L1Image> {
    const image = this.l1Image() as L1Image;
    const booted = this.options.hostKernel ? { ...image, vmlinux: this.options.hostKernel.vmlinux } : image;
    return { ...booted, initramfs: await (this.initramfs ??= initramfsToBoot(image, this.l1?.initrdLimit, this.overlays())) };
  }
  private initramfs?: Promise<string>;
  private readonly askedHost?: HostName;

  async problem(): Promise<string | undefined> {
    const build = this.options.build;
    if (build && !build.binaries.kvm) return `QEMU build '${build.manifest.name}' has no ppc64el binary: 'tcespec qemu build ${build.manifest.name} … --target kvm'`;
    const kernel = this.options.hostKernel;
    if (kernel && this.options.direct)
      return `kernel build '${kernel.manifest.name}' is booted as L1; on this POWER host the host's own kernel runs the guests (boot it there to judge it)`;
    // A POWER host's own KVM is the host its platform says (traits.host).
    if (this.options.direct)
      return this.askedHost && this.askedHost !== this.traits.host
        ? `--kvm-host ${this.askedHost} names the machine L1 is; on this POWER host the host's own KVM runs the guests, no L1, and it is a ${this.traits.host} host`
        : undefined;
    const l0 = this.l0!;
    if ("problem" in l0) return l0.problem;
    const image = this.l1Image();
    return "problem" in image ? image.problem : undefined;
  }

  hint(unsupported: string): string {
    return this.options.direct && /plug vfio/.test(unsupported)
      ? `${unsupported} (set TCESPEC_VFIO_HOST to PCI devices bound to vfio-pci, comma-separated)`
      : unsupported;
  }

  async prepare(spec: CompiledSpec): Promise<KvmJob | { unsupported: string }> {
    // Capabilities are KVM's: a TCG guest has none to hide.
    const tcg = spec.machine.accel !== "kvm";
    // A QEMU standing for a profile whose QEMU predates a capability never sees it (the profile's `predates`).
    const predated = this.options.standsFor ? PROFILES[this.options.standsFor].predates : [];
    const hideCaps = tcg ? [] : hiddenCaps(spec.machine.caps.filter((c) => !predated.includes(c)));
    if (hideCaps.length > 0) {
      const direct = this.options.direct;
      const shim = direct ? await (this.shim ??= buildNativeShim(this.options.cacheRoot)) : undefined;
      const image = direct ? undefined : this.l1Image();
      const hasShim = direct ? Boolean(shim) : image !== undefined && "manifest" in image && image.manifest.shim;
      // Without an image the run is an error (problem()), not unsupported.
      if (!hasShim && (direct || (image !== undefined && "manifest" in image)))
        return {
          unsupported: direct
            ? "caps: no capability shim for this host (install a C compiler: cc)"
            : "caps: the L1 image has no capability shim (install gcc-powerpc64le-linux-gnu, then 'tcespec kvm setup')",
        };
    }
    // `expect host` claims the host did not WARN: only where the kernel log is read and the guest's
    // lines are copied into it (L1, its image's shim). A POWER host's own log is not tcespec's.
    if (spec.steps.some((s) => s.kind === "expect" && s.probe.kind === "host")) {
      if (this.options.direct) return { unsupported: "expect host: this host's kernel log is not read here (a WARN of its kernel would go unseen)" };
      const image = this.l1Image();
      if ("manifest" in image && !image.manifest.shim)
        return { unsupported: "expect host: the L1 image has no shim to copy the guest's lines into L1's kernel log, so a WARN could not be placed (install gcc-powerpc64le-linux-gnu, then 'tcespec kvm setup')" };
    }
    return { hideCaps, ...(tcg ? { accel: "tcg" as const } : {}) };
  }

  identity(): BackendIdentity | undefined {
    return this.software;
  }

  /**
   * The software a batch says it ran on: the QEMU that judged must be of the version its runs stand
   * for (an L1 image is chosen by its QEMU's package; on a POWER host, the host's QEMU is whatever
   * it is). Why not, if not.
   */
  /** The kernel build's banner, where L1's differs from it (its build number and date): another build of the same release ran. */
  private otherBuild(banner: string | undefined): string | undefined {
    const build = this.options.hostKernel;
    if (!build || !banner) return undefined;
    this.buildBanner ??= bannerOf(build.vmlinux) ?? "";
    return this.buildBanner && this.buildBanner !== banner ? this.buildBanner : undefined;
  }
  private buildBanner?: string;

  private judgedBy(software: Software | undefined): string | undefined {
    if (!software) return "the batch did not say which kernel and QEMU ran it (no TCESPEC-SOFTWARE line)";
    const parsed = parseQemuVersion(software.qemu);
    if (!parsed) return `the guests' QEMU did not name its version: '${software.qemu.slice(0, 80)}'`;
    const where = this.options.direct ? this.options.binary : "L1's qemu-system-ppc64";
    const build = this.options.build;
    const kernel = this.options.hostKernel?.manifest;
    const observed = hostOfPlatform(software.platform);
    this.software = {
      qemu: describeQemu(parsed),
      // The build is named only where L1 said it ran it: a report never pins it on another kernel.
      kernel: kernel && software.kernel === kernel.release && !this.otherBuild(software.banner) ? `${software.kernel} (${describeKernel(kernel)})` : software.kernel,
      // Which machine L1 was: a pseries guest (KVM-HV nested) or a PowerNV server (on bare metal).
      where: this.options.direct ? `${this.options.binary} on this host` : `L1 image ${(this.image as L1Image).dir}${build ? ", the build's binary appended" : ""}, on ${this.l1!.describe}${this.l0Program()?.eduDmaMs !== undefined ? " (L0's edu devices: DMAs at once)" : ""}`,
      // The host as its kernel says it runs (/proc/cpuinfo's platform), not as tcespec meant it.
      ...(observed ? { host: observed } : {}),
      ...(build ? { build: describeBuild(build.manifest) } : {}),
    };
    // L1 must be the machine asked for: a pseries L1 answering for PowerNV would be another host's verdict.
    if (this.l1 && observed !== this.l1.name)
      return `L1 says it runs on ${software.platform ? `platform '${software.platform}'` : "no platform it named"}, not the ${this.l1.name} host asked for (--kvm-host)`;
    if (!this.l1 && observed && observed !== this.traits.host) return `this host says it runs on platform '${software.platform}', not the ${this.traits.host} host its runs stand for`;
    if (kernel && software.kernel !== kernel.release)
      return `L1 ran Linux ${software.kernel}, not kernel build '${kernel.name}' (${kernel.release}): the build's vmlinux was not what booted`;
    // One release, another build (a tcespec build of the same version): the banners differ.
    const other = this.otherBuild(software.banner);
    if (kernel && other) return `L1 ran '${software.banner}', not kernel build '${kernel.name}' ('${other}'): the build's vmlinux was not what booted`;
    // A build must be what ran: its own base version, whatever profile it stands for.
    // (tcespec builds carry no package version: a "(Debian …)" is the image's own QEMU.)
    if (build)
      return belongsToBase(parsed.version, build.manifest.base) && !parsed.build
        ? undefined
        : `the guests' QEMU says ${describeQemu(parsed)}, not build '${build.manifest.name}' (QEMU ${build.manifest.base}): the build's binary did not replace it`;
    return versionMismatch({ binary: where, ...parsed }, this.options.qemuVersion, where);
  }

  /**
   * A guest's output counts only from software that says what it is, of the right version (why
   * not, where it does not); a guest that did not finish keeps its own reason.
   */
  private wrongSoftware(results: readonly GuestResult[], software: Software | undefined): string | undefined {
    return results.some((r) => "body" in r) ? this.judgedBy(software) : undefined;
  }

  /**
   * Every guest in each L1's initramfs, each L1 (as many at once as lanes) handed the next as it
   * asks (HandOut): the L1s end within about a guest of each other. An L1 whose host kernel
   * crashed, or that ran a guest that spoils its host, is told to stop; another boots while
   * guests are left. A guest its L1 never started is handed again.
   */
  private async handedOut(batchJobs: readonly BatchJob[], lanes: number, finished?: () => void): Promise<Launched[]> {
    const queue = new HandOut(
      batchJobs.map(guestCost),
      batchJobs.map((job) => job.spoilsHost !== undefined),
    );
    const results: (Launched | undefined)[] = batchJobs.map(() => undefined);
    let failed: string | undefined;
    // The L1s running now: another boots only for guests none of them can take.
    const live = new Set<{ spoiled?: boolean }>();
    const lane = async () => {
      for (let first = true; first ? queue.left > 0 : queue.needsAnother([...live]); first = false) {
        const l1 = {};
        live.add(l1);
        const handed: number[] = [];
        const handOut = () => {
          const next = queue.next(l1);
          if (next !== undefined) handed.push(next);
          return next;
        };
        const answer = await this.bootImage().then((image) => runL1(image, batchJobs, { ...this.options, host: this.l1!, l0: this.l0Program()!, overlays: this.overlays(), finished, handOut }));
        live.delete(l1);
        if ("error" in answer) {
          for (const i of handed) results[i] = named(answer);
          // An L1 that never asked: this lane stops (the others go on; what none ran gets its error).
          if (handed.length === 0) return void (failed = answer.error);
          continue;
        }
        // An L1 that stopped before it asked (its kernel panicked at boot): this lane stops too, with its reason.
        if (handed.length === 0) {
          const first = answer.results[0];
          return void (failed = first && "error" in first ? first.error : "not run: L1 stopped before it asked for a guest");
        }
        const wrong = this.wrongSoftware(handed.map((i) => answer.results[i]!), answer.software);
        for (const i of handed) {
          const result = answer.results[i]!;
          if (!("notRun" in result && result.notRun && queue.giveBack(i))) results[i] = launchedOf(result, wrong);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(lanes, batchJobs.length)) }, lane));
    return results.map((r) => r ?? named({ error: failed ?? "not run: no L1 was left to run it" }));
  }

  async launch(jobs: readonly GuestJob<KvmJob>[], lanes: number, finished?: () => void): Promise<Launched[]> {
    const direct = this.options.direct;
    // Built by `prepare` for the first spec that hides capabilities, if one did.
    const shim = direct ? await this.shim : undefined;
    // Which host device each vfio-pci plug takes: the planner's placement (pickHost), in step order.
    const batchJobs = jobs.map((job): BatchJob => {
      const hosts = job.steps.flatMap((step) => {
        if (step.kind !== "plug" || !step.device.vfio) return [];
        if (step.device.host === undefined) throw new Error(`internal: vfio-pci device ${step.device.name} was not placed on a host device`);
        return [step.device.host];
      });
      return {
        elf: job.elf,
        args: job.args,
        hideCaps: job.extra.hideCaps,
        steps: job.steps,
        hosts,
        ...(job.extra.accel ? { accel: job.extra.accel } : {}),
        ...(job.spoilsHost ? { spoilsHost: job.spoilsHost } : {}),
      };
    });
    // On an L1 host that loads any initramfs: every L1 holds every guest and is handed the next as it asks.
    if (!direct && this.l1!.initrdLimit === undefined) return this.handedOut(batchJobs, lanes, finished);
    // Lanes of about equal work, each guest that spoils its host last in one (lanes.ts).
    const order = lanesFor(batchJobs.map(guestCost), batchJobs.map((job) => job.spoilsHost !== undefined), lanes);
    const batches = order.map((lane) => lane.map((i) => batchJobs[i]!));
    const runBatch = (batch: BatchJob[]) =>
      direct
        ? runDirect(batch, { binary: this.options.binary, timeoutMs: this.options.timeoutMs, accel: direct.accel, shim, vfioHosts: this.vfioHosts, finished })
        : this.bootImage().then((image) =>
            runL1(image, batch, {
              ...this.options,
              host: this.l1!,
              l0: this.l0Program()!,
              overlays: this.overlays(),
              finished,
            }),
          );
    // A guest that leaves its host spoiled ends its L1: the guests after it start a fresh one. (On
    // a POWER host itself there is no other host to go on with: they run there, as the user chose.)
    const answers = await Promise.all(batches.map((batch) => (direct ? afterCrashes(batch, runBatch) : afterSpoilers(batch, (part) => afterCrashes(part, runBatch)))));
    const launched = answers.map((answer, m) => {
      const count = batches[m]!.length;
      if ("error" in answer) return Array.from({ length: count }, () => named(answer));
      const wrong = this.wrongSoftware(answer.results, answer.software);
      return answer.results.map((result) => launchedOf(result, wrong));
    });
    // Back in the jobs' order.
    const results: Launched[] = [];
    order.forEach((lane, m) => lane.forEach((i, k) => (results[i] = launched[m]![k]!)));
    return results;
  }
}

/** With --debug (TCESPEC_KVM_CONSOLE) every failure names the file that holds what L1 printed. */
function named(launched: Launched): Launched {
  const kept = process.env.TCESPEC_KVM_CONSOLE;
  return "error" in launched && kept ? { error: `${launched.error} (L1's console and monitor logs: ${kept})` } : launched;
}

/** A guest's result as the pipeline takes it; `wrong`: why the software that ran it does not count (wrongSoftware). */
function launchedOf(result: GuestResult, wrong: string | undefined): Launched {
  return named(
    "error" in result
      ? { error: result.error }
      : wrong
        ? { error: wrong }
        : { console: result.body, ...("crash" in result ? { crash: result.crash } : {}), ...("warning" in result && result.warning ? { warning: result.warning } : {}), ...("unsettled" in result && result.unsettled ? { unsettled: result.unsettled } : {}) },
  );
}

/** The kvm backend: the real-target pipeline on real KVM, standing for the profile of the guests' QEMU. */
export class KvmBackend extends RealBackend<KvmJob> {
  declare protected readonly launcher: KvmLauncher;
  constructor(options: KvmOptions = {}) {
    const launcher = new KvmLauncher(options);
    const profile = options.build ? buildProfile(options.build, options.standsFor) : QEMU_VERSIONS[launcher.options.qemuVersion];
    if (typeof profile !== "string") throw new Error(profile.problem);
    super("kvm", [profile], launcher);
  }

  /** The host kernel rules its runs stand for, where it knows them (the model beside it plays the same). */
  get kernelRules(): KernelRulesName | undefined {
    return this.launcher.options.kernelRules;
  }

  /** The host whose KVM and IOMMU its runs stand for: L1's machine, or (on a POWER host) PowerNV. */
  get host(): HostName {
    return this.launcher.traits.host ?? "pseries";
  }

  /** Where the guests run: "direct" on this host, or "nested" in L1. */
  get mode(): "direct" | "nested" {
    return this.launcher.options.direct ? "direct" : "nested";
  }

  /** The cached L1 image, or why there is none. */
  l1Image(): L1Image | { problem: string } {
    return this.launcher.l1Image();
  }
}

/** This machine's platform as its kernel names it (/proc/cpuinfo), where it names one (POWER). */
function ownPlatform(): string | undefined {
  try {
    return /^platform\s*:\s*(\S+)/m.exec(readFileSync("/proc/cpuinfo", "utf8"))?.[1];
  } catch {
    return undefined;
  }
}

/** The host a kernel's platform (/proc/cpuinfo) names: PowerNV is bare metal, pSeries a hypervisor's guest. */
function hostOfPlatform(platform: string | undefined): HostName | undefined {
  return platform === "PowerNV" ? "powernv" : platform === "pSeries" ? "pseries" : undefined;
}

/** Whether QEMU's own version (7.2.22) is a build's base (7.2.22; a tree at 9.2.50 says 9.2.50). */
function belongsToBase(version: string, base: string): boolean {
  return version === base || base.startsWith(`${version}.`) || version.startsWith(`${base}.`);
}

/**
 * Runs a batch in parts, each ending at a guest that spoils its host (BatchJob's `spoilsHost`: its
 * kernel wrote past a TCE table, where a later guest's host crashed in unrelated code): each part
 * on a machine of its own, one after the other. A part that failed fails its own guests only.
 */
export async function afterSpoilers(batch: BatchJob[], run: (batch: BatchJob[]) => Promise<BatchResult>): Promise<BatchResult> {
  const parts: BatchJob[][] = [[]];
  for (const job of batch) {
    parts.at(-1)!.push(job);
    if (job.spoilsHost) parts.push([]);
  }
  if (parts.at(-1)!.length === 0) parts.pop();
  if (parts.length === 1) return run(batch);
  const results: GuestResult[] = [];
  let software: Software | undefined;
  for (const part of parts) {
    const answer = await run(part);
    if ("error" in answer) results.push(...part.map(() => ({ error: answer.error })));
    else {
      software ??= answer.software;
      results.push(...answer.results);
    }
  }
  return { results, ...(software ? { software } : {}) };
}

/**
 * Runs a batch; when the host kernel crashed under one guest, the guests after it (which a crashed
 * kernel cannot be trusted to run, and which a stopped L1 never started) run again on a fresh
 * machine: none is lost, none is blamed for the crash. Each machine runs at least one guest, so
 * this ends.
 */
async function afterCrashes(batch: BatchJob[], run: (batch: BatchJob[]) => Promise<BatchResult>): Promise<BatchResult> {
  const first = await run(batch);
  if ("error" in first) return first;
  const crashed = first.results.findIndex(hostKernelCrashed);
  if (crashed < 0 || crashed === batch.length - 1) return first;
  const rest = await afterCrashes(batch.slice(crashed + 1), run);
  if ("error" in rest) return { ...first, results: [...first.results.slice(0, crashed + 1), ...batch.slice(crashed + 1).map(() => ({ error: rest.error }))] };
  return { ...first, results: [...first.results.slice(0, crashed + 1), ...rest.results] };
}
