// The qemu backend: a spec compiled into a bare-metal guest, run on qemu-system-ppc64 under
// TCG, its answers read back from the console and judged by the same evaluator as the model.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompiledSpec } from "../../compile/program.js";
import type { ProfileName } from "../../engine/types.js";
import { runOf, type RunResult } from "../../run/outcome.js";
import type { Backend } from "../backend.js";
import { buildGuest } from "../guest/guest.js";
import { existenceCalls, judge, planFor, readGuestOutput, succeeded, type MachineTraits } from "../guest/plan.js";
import { CONSOLE_ONLY, EDU_FULL_DMA_MASK, runQemu, type HostAction } from "./process.js";
import { busOf, XLATE_TRACE } from "../guest/plan.js";
import { fetchedQemu, QEMU_VERSIONS, type QemuVersion } from "./versions.js";

export interface QemuOptions {
  /** The binary; default: for 7.2 qemu-system-ppc64 from PATH (or $TCESPEC_QEMU), for 10.0 the fetched one. */
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
  private readonly binary: string | { problem: string };
  private readonly extraArgs: string[] = [];
  private readonly timeoutMs: number;

  constructor(options: QemuOptions = {}) {
    const version = options.version ?? "7.2";
    this.profiles = [QEMU_VERSIONS[version]];
    this.timeoutMs = options.timeoutMs ?? 10_000;
    if (options.binary || version === "7.2") this.binary = options.binary ?? process.env.TCESPEC_QEMU ?? "qemu-system-ppc64";
    else {
      const fetched = fetchedQemu(version);
      this.binary = "problem" in fetched ? fetched : fetched.binary;
      // Its own firmware: never the system QEMU's vof.bin.
      if (!("problem" in fetched)) this.extraArgs.push("-L", fetched.dataDir);
    }
  }

  async run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult> {
    const base = { ...runOf(spec, profile, this.name), expectations: [] };
    const plan = planFor(spec, profile, TCG_TRAITS);
    if ("unsupported" in plan) return { ...base, status: "unsupported", reason: plan.unsupported };
    if (typeof this.binary !== "string") return { ...base, status: "error", reason: this.binary.problem };
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
      const result = await runQemu(this.binary, [...QEMU_BASE_ARGS, ...this.extraArgs, ...plan.args, "-kernel", kernel], this.timeoutMs, steps);
      if ("error" in result) return { ...base, status: "error", reason: result.error };
      const judged = judge(spec, profile, plan, readGuestOutput(result.body, result.host), this.name);
      return typeof judged === "string" ? { ...base, status: "error", reason: judged } : judged;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}
