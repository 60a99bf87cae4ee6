// The qemu backend: a spec compiled into a bare-metal guest, run on qemu-system-ppc64 under
// TCG, its answers read back from the console and judged by the same evaluator as the model.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompiledSpec } from "../../compile/program.js";
import type { ProfileName } from "../../engine/types.js";
import { runOf, type RunResult } from "../../verdict/outcome.js";
import type { Backend, BackendIdentity } from "../backend.js";
import { buildGuest } from "../guest/guest.js";
import { existenceCalls } from "../real/calls.js";
import { readGuestOutput, XLATE_TRACE } from "../real/console.js";
import { judge } from "../real/judge.js";
import { busOf, planFor } from "../real/planner.js";
import { succeeded, type MachineTraits } from "../real/traits.js";
import { CONSOLE_ONLY, EDU_FULL_DMA_MASK, runQemu, type HostAction } from "./process.js";
import { defaultQemu, describeQemu, QEMU_VERSIONS, readQemuVersion, versionMismatch, type QemuIdentity, type QemuVersion } from "./versions.js";

export interface QemuOptions {
  /** The binary; default: $TCESPEC_QEMU, else the one 'tcespec qemu setup V' fetched, else (7.2) qemu-system-ppc64 from PATH. */
  binary?: string;
  timeoutMs?: number;
  /** Which QEMU this is, and so which profile its runs stand for (default 7.2). */
  version?: QemuVersion;
}

/** The same machine as the model's: no default devices (no VIO NIC or vscsi with LIOBNs of their own). */
export const QEMU_BASE_ARGS = [
  "-M",
  "pseries,x-vof=on",
  "-accel",
  "tcg",
  "-m",
  "1G",
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

export class QemuBackend implements Backend {
  readonly name = "qemu";
  readonly profiles: readonly ProfileName[];
  readonly real = true;
  readonly version: QemuVersion;
  private readonly binary: string | { problem: string };
  private readonly extraArgs: string[] = [];
  private readonly timeoutMs: number;
  /** The binary as it reports itself (read once, at the first run), or why it cannot stand for the profile. */
  private checked?: QemuIdentity | { problem: string };
  private ran = false;

  constructor(options: QemuOptions = {}) {
    this.version = options.version ?? "7.2";
    this.profiles = [QEMU_VERSIONS[this.version]];
    this.timeoutMs = options.timeoutMs ?? 10_000;
    const found = options.binary ? { binary: options.binary } : defaultQemu(this.version);
    this.binary = "problem" in found ? found : found.binary;
    // A fetched QEMU's own firmware: never the system QEMU's vof.bin.
    if ("dataDir" in found && found.dataDir) this.extraArgs.push("-L", found.dataDir);
  }

  /** The binary's own --version, checked against the version its runs stand for. */
  private check(): QemuIdentity | { problem: string } {
    if (typeof this.binary !== "string") return this.binary;
    if (!this.checked) {
      const identity = readQemuVersion(this.binary);
      const mismatch = "problem" in identity ? undefined : versionMismatch(identity, this.version);
      this.checked = mismatch ? { problem: mismatch } : identity;
    }
    return this.checked;
  }

  identity(): BackendIdentity | undefined {
    if (!this.ran || !this.checked || "problem" in this.checked) return undefined;
    return { qemu: describeQemu(this.checked), where: this.checked.binary };
  }

  async run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult> {
    const base = { ...runOf(spec, profile, this.name), expectations: [] };
    const plan = planFor(spec, profile, TCG_TRAITS);
    if ("unsupported" in plan) return { ...base, status: "unsupported", reason: plan.unsupported };
    const checked = this.check();
    if ("problem" in checked) return { ...base, status: "error", reason: checked.problem };
    const binary = checked.binary;
    this.ran = true;
    const dir = mkdtempSync(join(tmpdir(), "tcespec-"));
    try {
      const kernel = join(dir, "guest.elf");
      const calls = plan.steps.flatMap((step) => step.calls);
      writeFileSync(kernel, buildGuest(calls));
      // TCG_TRAITS plans no vfio, so no unplug reaches here.
      const steps = calls.flatMap((call): HostAction[] =>
        call.kind === "host" && call.action !== "unplug"
          ? [call.action]
          : call.kind === "plug"
            ? [{ plug: call.device, bus: busOf(call.device.phbIndex) }]
            : [],
      );
      const result = await runQemu(binary, [...QEMU_BASE_ARGS, ...this.extraArgs, ...plan.args, "-kernel", kernel], this.timeoutMs, steps);
      if ("error" in result) return { ...base, status: "error", reason: result.error };
      const judged = judge(spec, profile, plan, readGuestOutput(result.body, result.host), this.name);
      return typeof judged === "string" ? { ...base, status: "error", reason: judged } : judged;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
