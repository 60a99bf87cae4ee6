// Real software that crashed under a spec (the host's kernel, or the machine's QEMU): a verdict at
// the step that was running. The steps before it are judged from what they printed; `expect host`
// after it reads `crashed`; every other expectation from that step on was not reached.
import type { CompiledSpec } from "../../compile/program.js";
import type { Outcome, ProfileName } from "../../engine/types.js";
import { describeCrash, statusOf, type CrashReport, type ExpectationOutcome, type RunResult } from "../../verdict/outcome.js";
import { linesOf } from "../guest/guest.js";
import { kernelReportAt, readGuestOutput, type GuestOutput, type KernelWarning } from "./console.js";
import { judge } from "./judge.js";
import type { GuestPlan } from "./traits.js";

/** The first plan step whose output is not all there: the step that was running when the crash came. */
export function crashedStep(plan: GuestPlan, output: GuestOutput): number {
  let lines = 0;
  let marks = 0;
  let host = 0;
  for (const [index, step] of plan.steps.entries()) {
    for (const call of step.calls) {
      if (call.kind === "mark" || call.kind === "dma") marks++;
      else if (call.kind === "host" || call.kind === "plug") host++;
      else lines += linesOf(call);
    }
    if (lines > output.lines.length || marks > output.marks.length || host > output.host.length) return index;
  }
  return plan.steps.length;
}

const before = (a: { line: number; column: number }, b: { line: number; column: number }) => a.line < b.line || (a.line === b.line && a.column < b.column);

/**
 * The run of a spec under which real software crashed, judged as far as it got: `console` is what
 * the machine printed (up to the guest's end, or up to where it stopped), `host` what the host
 * steps answered where the launcher knows it.
 */
/** The report placed at the plan's step `index` (its line and source), or at none past the last step. */
function placeAt(spec: CompiledSpec, plan: GuestPlan, index: number, report: CrashReport): { at?: { line: number; column: number }; placed: CrashReport } {
  const at = plan.steps[index]?.at;
  const statement = at ? spec.steps.find((s) => s.line === at.line && s.column === at.column) : undefined;
  return { at, placed: { ...report, ...(at ? { line: at.line, column: at.column } : {}), ...(statement ? { source: statement.source } : {}) } };
}

/**
 * Whether the spec has accounted for what real software did (`expect host crashed|warned`, or
 * `expect host ok` with xfail, reading it): then its status is its expectations'; otherwise the
 * crash or the WARN is the verdict.
 */
function accountedFor(spec: CompiledSpec, expectations: readonly ExpectationOutcome[], state: "crashed" | "warned"): boolean {
  const hostProbes = hostProbesOf(spec);
  return expectations.some((e) => hostProbes.has(`${e.line}:${e.column}`) && e.actual === state && (e.outcome === "matched" || e.outcome === "xfail"));
}

/** The places (line:column) of the spec's `expect host` expectations. */
const hostProbesOf = (spec: CompiledSpec) => new Set(spec.steps.filter((s) => s.kind === "expect" && s.probe.kind === "host").map((s) => `${s.line}:${s.column}`));

export function judgeCrash(
  spec: CompiledSpec,
  profile: ProfileName,
  plan: GuestPlan,
  console: string,
  host: Outcome[] | undefined,
  crash: CrashReport,
  backend: string,
): RunResult | string {
  const output = readGuestOutput(console, host);
  // The step that was running when the kernel reported: what the guest had printed by then.
  const reportAt = crash.software === "host kernel" ? kernelReportAt(console) : -1;
  const index = crashedStep(plan, reportAt >= 0 ? readGuestOutput(console.slice(0, reportAt), host) : output);
  const { at, placed } = placeAt(spec, plan, index, crash);
  const judged = judge(spec, profile, plan, output, backend, index);
  if (typeof judged === "string") return judged;
  const hostProbes = hostProbesOf(spec);
  const expectations = judged.expectations.map((e): ExpectationOutcome => {
    if (!at || before(e, at) || hostProbes.has(`${e.line}:${e.column}`)) return e;
    const here = e.line === at.line && e.column === at.column;
    const who = crash.software === "QEMU" ? "QEMU" : "the host kernel";
    return { ...e, outcome: "skipped", actual: here ? `${who} crashed here` : `not reached: ${who} crashed at line ${at.line}` };
  });
  const status = accountedFor(spec, expectations, "crashed") ? statusOf(expectations) : "crashed";
  return { ...judged, status, reason: describeCrash(placed), crash: placed, expectations };
}

/**
 * The run of a spec under which the host kernel WARNed: the guest ran to its end, so every
 * expectation is judged from what it printed; `expect host` from the step that caused the WARN on
 * reads `warned` (from the first, for a WARN as QEMU started or one the log could not place: a
 * spec with `expect host` does not run where the log holds no copy of the guest's lines).
 */
export function judgeWarning(
  spec: CompiledSpec,
  profile: ProfileName,
  plan: GuestPlan,
  console: string,
  host: Outcome[] | undefined,
  warning: KernelWarning,
  backend: string,
): RunResult | string {
  const index = warning.placed === "among" ? crashedStep(plan, readGuestOutput(warning.before, host)) : 0;
  const phase: CrashReport["phase"] = warning.placed !== "among" ? warning.placed : index >= plan.steps.length ? "exit" : undefined;
  const placed: CrashReport = phase ? { ...warning.report, phase } : placeAt(spec, plan, index, warning.report).placed;
  const judged = judge(spec, profile, plan, readGuestOutput(console, host), backend, undefined, index);
  if (typeof judged === "string") return judged;
  return { ...judged, status: accountedFor(spec, judged.expectations, "warned") ? judged.status : "crashed", reason: describeCrash(placed), crash: placed };
}
