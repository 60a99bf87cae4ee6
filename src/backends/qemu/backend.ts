// The qemu backend: a spec compiled into a bare-metal guest, run on qemu-system-ppc64 under
// TCG, its answers read back from the console and judged by the same evaluator as the model.
// The target is its traits and its launcher; the pipeline is real/pipeline.ts.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BackendIdentity } from "../backend.js";
import { existenceCalls } from "../real/calls.js";
import { XLATE_TRACE } from "../real/console.js";
import { RealBackend, type GuestJob, type Launched, type Launcher } from "../real/pipeline.js";
import { succeeded, type MachineTraits } from "../real/traits.js";
import type { KernelRulesName } from "../../profile-names.js";
import { CONSOLE_ONLY, EDU_FULL_DMA_MASK, runQemu } from "./process.js";
import type { ProfileName } from "../../engine/types.js";
import { baseFamily, buildProfile, describeBuild, type QemuBuild } from "./build.js";
import { defaultQemu, describeQemu, QEMU_VERSIONS, readQemuVersion, versionMismatch, type QemuIdentity, type QemuVersion } from "./versions.js";

export interface QemuOptions {
  /** The binary; default: $TCESPEC_QEMU, else the one 'tcespec qemu setup V' fetched, else (7.2) qemu-system-ppc64 from PATH. */
  binary?: string;
  timeoutMs?: number;
  /** Without `timeoutMs`: the default per-spec timeout (10 s) times this. */
  timeoutScale?: number;
  /** Which QEMU this is, and so which profile its runs stand for (default 7.2). */
  version?: QemuVersion;
  /** A QEMU built by tcespec: its host binary runs, of its base version. */
  build?: QemuBuild;
  /** The profile the runs stand for (a build's: default, its base version's). */
  standsFor?: ProfileName;
  /** The host kernel rules the runs stand for (`when kernel …`), as the model in the same run plays them. */
  kernelRules?: KernelRulesName;
}

/** The same machine as the model's: no default devices (no VIO NIC or vscsi with LIOBNs of their own). */
export const QEMU_BASE_ARGS = [
  "-M",
  "pseries,x-vof=on",
  "-accel",
  "tcg",
  ...CONSOLE_ONLY,
  // QEMU's trace (into the console's stream, see process.ts): each translation for a device,
  // that is where a DMA landed.
  "-trace",
  XLATE_TRACE,
  ...EDU_FULL_DMA_MASK,
];

/** Under TCG every table lives in userspace: placement is only whether the window exists. */
export const TCG_TRAITS: MachineTraits = {
  hostSteps: { reset: true, migrate: true, unplug: false },
  devices: true,
  dma: "trace",
  vfio: 0,
  notifiers: false,
  refuse: (spec) => (spec.machine.accel === "kvm" ? "machine kvm: this backend runs QEMU under TCG (try --backend kvm)" : undefined),
  placement: (liobn) => ({
    calls: existenceCalls(liobn),
    read: (answers) => (answers.some(succeeded) ? "userspace" : "absent"),
  }),
};

/** QEMU under TCG on this host: one QEMU process per guest, host steps over QMP, `lanes` at once. */
export class TcgLauncher implements Launcher<undefined> {
  traits: MachineTraits = TCG_TRAITS;
  private readonly binary: string | { problem: string };
  private readonly extraArgs: string[] = [];
  /** The binary as it reports itself (read once, before the first run), or why it cannot stand for the profile. */
  private checked?: QemuIdentity | { problem: string };

  constructor(
    /** The QEMU version the binary must be of; a build of a base tcespec has no profile for is not checked. */
    readonly version: QemuVersion | undefined,
    binary: string | undefined,
    private readonly timeoutMs: number,
    private readonly build?: QemuBuild,
  ) {
    if (build) {
      const host = build.binaries.tcg;
      this.binary = host ?? { problem: `QEMU build '${build.manifest.name}' has no host binary: 'tcespec qemu build ${build.manifest.name} … --target tcg'` };
      // A build installs no firmware (Debian's source has no blobs): the packaged QEMU's of its version.
      const data = version ? defaultQemu(version) : undefined;
      this.extraArgs.push("-L", data && "dataDir" in data && data.dataDir ? data.dataDir : "/usr/share/qemu");
      return;
    }
    const found = binary ? { binary } : defaultQemu(version ?? "7.2");
    this.binary = "problem" in found ? found : found.binary;
    // A fetched QEMU's own firmware: never the system QEMU's vof.bin.
    if ("dataDir" in found && found.dataDir) this.extraArgs.push("-L", found.dataDir);
  }

  /** The binary's own --version, checked against the version its runs stand for. */
  private check(): QemuIdentity | { problem: string } {
    if (typeof this.binary !== "string") return this.binary;
    if (!this.checked) {
      const identity = readQemuVersion(this.binary);
      const mismatch = "problem" in identity || !this.version ? undefined : versionMismatch(identity, this.version);
      this.checked = mismatch ? { problem: mismatch } : identity;
    }
    return this.checked;
  }

  async problem(): Promise<string | undefined> {
    const checked = this.check();
    return "problem" in checked ? checked.problem : undefined;
  }

  async prepare(): Promise<undefined> {
    return undefined;
  }

  /** What judged: the binary as it answered the check every launch passes first. */
  identity(): BackendIdentity | undefined {
    if (!this.checked || "problem" in this.checked) return undefined;
    return { qemu: describeQemu(this.checked), where: this.checked.binary, ...(this.build ? { build: describeBuild(this.build.manifest) } : {}) };
  }

  async launch(jobs: readonly GuestJob<undefined>[], lanes: number, finished?: () => void): Promise<Launched[]> {
    const binary = (this.check() as QemuIdentity).binary;
    const results: Launched[] = new Array(jobs.length);
    let next = 0;
    const lane = async () => {
      while (next < jobs.length) {
        const k = next++;
        results[k] = await this.launchOne(binary, jobs[k]!);
        finished?.();
      }
    };
    await Promise.all(Array.from({ length: Math.min(lanes, jobs.length) }, lane));
    return results;
  }

  private async launchOne(binary: string, job: GuestJob<undefined>): Promise<Launched> {
    const dir = mkdtempSync(join(tmpdir(), "tcespec-"));
    try {
      const kernel = join(dir, "guest.elf");
      writeFileSync(kernel, job.elf);
      const result = await runQemu(binary, [...QEMU_BASE_ARGS, ...this.extraArgs, ...job.args, "-kernel", kernel], this.timeoutMs, job.steps);
      return "error" in result ? result : { console: result.body, host: result.host, ...(result.crash ? { crash: result.crash } : {}) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The qemu backend: the real-target pipeline on QEMU under TCG, standing for its version's profile. */
export class QemuBackend extends RealBackend<undefined> {
  constructor(options: QemuOptions = {}) {
    const build = options.build;
    const version = build ? baseFamily(build.manifest.base) : (options.version ?? "7.2");
    const profile = build ? buildProfile(build, options.standsFor) : QEMU_VERSIONS[version!];
    if (typeof profile !== "string") throw new Error(profile.problem);
    const launcher = new TcgLauncher(version, options.binary, options.timeoutMs ?? 10_000 * (options.timeoutScale ?? 1), build);
    if (options.kernelRules) launcher.traits = { ...TCG_TRAITS, kernelRules: options.kernelRules };
    super("qemu", [profile], launcher);
  }
}
