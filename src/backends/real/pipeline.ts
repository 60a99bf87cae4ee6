// One pipeline for every real target, shaped like QEMU's AccelClass: the target is a Launcher
// (start machines with a guest and its host steps, hand back what each printed) with a traits
// object (what it can run, how it observes); planning, building the guest and judging are the
// same for all. A new target is one launcher and one traits object.
import type { CompiledSpec } from "../../compile/program.js";
import type { Outcome, ProfileName } from "../../engine/types.js";
import { errorRun, runOf, type CrashReport, type RunResult } from "../../verdict/outcome.js";
import { judgeCrash, judgeWarning } from "./crash.js";
import type { Backend, BackendIdentity, GuestsDone, Task } from "../backend.js";
import { buildGuest, type EduDevice, type GuestCall } from "../guest/guest.js";
import { readGuestOutput, type KernelWarning } from "./console.js";
import { judge } from "./judge.js";
import { busOf, planFor } from "./planner.js";
import type { GuestPlan, MachineTraits } from "./traits.js";

/**
 * What the host does at a step the guest announces, on every target: hotplug a device (an
 * emulated edu, or a vfio-pci device: `device.vfio`) on a PHB's bus, unplug one, reset the
 * machine, migrate it.
 */
export type HostStep =
  | { kind: "plug"; device: EduDevice; bus: string }
  | { kind: "unplug"; device: string }
  | { kind: "reset" }
  | { kind: "migrate" };

/** One guest for a launcher: its program, its machine's options, its host steps in order, and what the target made of its spec. */
export interface GuestJob<Extra = unknown> {
  elf: Uint8Array;
  /** QEMU options of the guest's machine (its PHBs). */
  args: string[];
  steps: HostStep[];
  /** What the launcher's `prepare` said this spec needs on the target (hidden capabilities, an accelerator). */
  extra: Extra;
  /** Why the host cannot be trusted after this guest (GuestPlan's), if so: no other guest runs on it. */
  spoilsHost?: string;
}

/**
 * What a guest's machine printed up to the guest's end marker (its result lines, marks and QEMU's
 * trace lines, in order), with what each host step answered where the launcher knows it directly
 * (otherwise the stream carries the host's reports); with `crash`, what it printed before real
 * software crashed under it (a verdict); with `warning`, a WARN of the host kernel while the guest
 * ran on to its end (a verdict too, at the step that caused it); or why it did not finish (an error).
 */
export type Launched = { console: string; host?: Outcome[]; crash?: CrashReport; warning?: KernelWarning; unsettled?: string } | { error: string };

export interface Launcher<Extra = unknown> {
  /** What this target can run and how it observes: the planner asks, never the target's name. */
  readonly traits: MachineTraits;
  /** Why no run can go ahead here (a missing binary or image, a QEMU of another version), if so. */
  problem(): Promise<string | undefined>;
  /** What this spec needs on the target, or why it cannot run here (unsupported), beyond the traits. */
  prepare(spec: CompiledSpec): Promise<Extra | { unsupported: string }>;
  /** Runs the guests, `lanes` machines at once at most; one result per job, in order. `finished` is told as each guest ends. */
  launch(jobs: readonly GuestJob<Extra>[], lanes: number, finished?: () => void): Promise<Launched[]>;
  /** The software that judged, as it reported itself, once something ran. */
  identity(): BackendIdentity | undefined;
  /** Words to add to an unsupported reason where the user can change something (a variable to set). */
  hint?(unsupported: string): string;
}

/** The host steps of a plan's calls, in order. */
export function hostSteps(calls: readonly GuestCall[]): HostStep[] {
  return calls.flatMap((call): HostStep[] => {
    if (call.kind === "plug") return [{ kind: "plug", device: call.device, bus: busOf(call.device.phbIndex) }];
    if (call.kind !== "host") return [];
    if (call.action === "unplug") return [{ kind: "unplug", device: call.device! }];
    return [{ kind: call.action }];
  });
}

/** A real target as a backend: plan each spec, build its guest, launch the batch, judge what came back. */
export class RealBackend<Extra = unknown> implements Backend {
  readonly real = true;
  constructor(
    readonly name: string,
    readonly profiles: readonly ProfileName[],
    protected readonly launcher: Launcher<Extra>,
  ) {}

  async run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult> {
    return (await this.runBatch([{ spec, profile }], 1))[0]!;
  }

  /** Why this spec would be unsupported here (planned, not run), if it would. */
  async refuses(spec: CompiledSpec, profile: ProfileName): Promise<string | undefined> {
    const prepared = await this.prepared({ spec, profile });
    return "unsupported" in prepared ? prepared.unsupported : undefined;
  }

  /** A task's plan and what the target made of its spec, or why it cannot run here (unsupported). */
  private async prepared({ spec, profile }: Task): Promise<{ plan: GuestPlan; extra: Extra } | { unsupported: string }> {
    const plan = planFor(spec, profile, this.launcher.traits);
    if ("unsupported" in plan) return { unsupported: this.launcher.hint?.(plan.unsupported) ?? plan.unsupported };
    const extra = await this.launcher.prepare(spec);
    if (extra && typeof extra === "object" && "unsupported" in extra) return { unsupported: (extra as { unsupported: string }).unsupported };
    return { plan, extra: extra as Extra };
  }

  /** What the target can run and how it observes (the explorer generates within it). */
  get traits(): MachineTraits {
    return this.launcher.traits;
  }

  identity(): BackendIdentity | undefined {
    return this.launcher.identity();
  }

  async runBatch(tasks: readonly Task[], jobs: number, progress?: GuestsDone): Promise<RunResult[]> {
    const results: RunResult[] = new Array(tasks.length);
    const base = ({ spec, profile }: Task) => ({ ...runOf(spec, profile, this.name), expectations: [] });
    const pending: { index: number; plan: GuestPlan; job: GuestJob<Extra> }[] = [];
    for (const [index, task] of tasks.entries()) {
      const prepared = await this.prepared(task);
      if ("unsupported" in prepared) {
        results[index] = { ...base(task), status: "unsupported", reason: prepared.unsupported };
        continue;
      }
      const { plan, extra } = prepared;
      const calls = plan.steps.flatMap((s) => s.calls);
      pending.push({ index, plan, job: { elf: buildGuest(calls), args: plan.args, steps: hostSteps(calls), extra, ...(plan.spoilsHost ? { spoilsHost: plan.spoilsHost } : {}) } });
    }
    if (pending.length === 0) return results;
    const problem = await this.launcher.problem();
    if (problem) {
      for (const p of pending) results[p.index] = { ...base(tasks[p.index]!), status: "error", reason: problem };
      return results;
    }
    let done = tasks.length - pending.length;
    if (done > 0) progress?.(done);
    const launched = await this.launcher.launch(
      pending.map((p) => p.job),
      Math.max(1, jobs),
      () => progress?.(Math.min(tasks.length, ++done)),
    );
    pending.forEach((p, k) => {
      const task = tasks[p.index]!;
      const answer = launched[k] ?? { error: "internal: the launcher gave no result for this guest" };
      if ("error" in answer) {
        results[p.index] = { ...base(task), status: "error", reason: answer.error };
        return;
      }
      try {
        // Real software that crashed under the guest: a verdict at the step that was running.
        const judged = answer.crash
          ? judgeCrash(task.spec, task.profile, p.plan, answer.console, answer.host, answer.crash, this.name)
          : answer.warning
            ? judgeWarning(task.spec, task.profile, p.plan, answer.console, answer.host, answer.warning, this.name)
            : judge(task.spec, task.profile, p.plan, readGuestOutput(answer.console, answer.host), this.name, undefined, undefined, answer.unsettled);
        results[p.index] = typeof judged === "string" ? { ...base(task), status: "error", reason: judged } : judged;
      } catch (error) {
        results[p.index] = errorRun(task.spec, task.profile, this.name, error);
      }
    });
    return results;
  }
}
