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
  const at = plan.steps[index]?.at;
  const statement = at ? spec.steps.find((s) => s.line === at.line && s.column === at.column) : undefined;
  const placed: CrashReport = { ...crash, ...(at ? { line: at.line, column: at.column } : {}), ...(statement ? { source: statement.source } : {}) };
  const judged = judge(spec, profile, plan, output, backend, index);
  if (typeof judged === "string") return judged;
  const hostProbes = new Set(spec.steps.filter((s) => s.kind === "expect" && s.probe.kind === "host").map((s) => `${s.line}:${s.column}`));
  const expectations = judged.expectations.map((e): ExpectationOutcome => {
    if (!at || before(e, at) || hostProbes.has(`${e.line}:${e.column}`)) return e;
    const here = e.line === at.line && e.column === at.column;
    const who = crash.software === "QEMU" ? "QEMU" : "the host kernel";
    return { ...e, outcome: "skipped", actual: here ? `${who} crashed here` : `not reached: ${who} crashed at line ${at.line}` };
  });
  // A spec that expects the crash (`expect host crashed`, or `expect host ok` with xfail) has
  // accounted for it: its status is its expectations'. Otherwise the crash is the verdict.
  const accounted = expectations.some((e) => hostProbes.has(`${e.line}:${e.column}`) && e.actual === "crashed" && (e.outcome === "matched" || e.outcome === "xfail"));
  const status = accounted ? statusOf(expectations) : "crashed";
  return { ...judged, status, reason: describeCrash(placed), crash: placed, expectations };
}

/**
 * The run of a spec under which the host kernel WARNed: the guest ran to its end, so every
 * expectation is judged from what it printed; `expect host` from the step that caused the WARN on
 * reads `warned`. A spec that expects it (`expect host warned`, or `expect host ok` with xfail)
 * has accounted for it; otherwise the WARN is the run's verdict, as a crash is.
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
  const index = crashedStep(plan, readGuestOutput(warning.before, host));
  const at = plan.steps[index]?.at;
  const statement = at ? spec.steps.find((s) => s.line === at.line && s.column === at.column) : undefined;
  const placed: CrashReport = { ...warning.report, ...(at ? { line: at.line, column: at.column } : {}), ...(statement ? { source: statement.source } : {}) };
  const judged = judge(spec, profile, plan, readGuestOutput(console, host), backend, undefined, index);
  if (typeof judged === "string") return judged;
  const hostProbes = new Set(spec.steps.filter((s) => s.kind === "expect" && s.probe.kind === "host").map((s) => `${s.line}:${s.column}`));
  const accounted = judged.expectations.some((e) => hostProbes.has(`${e.line}:${e.column}`) && e.actual === "warned" && (e.outcome === "matched" || e.outcome === "xfail"));
  return { ...judged, status: accounted ? judged.status : "crashed", reason: describeCrash(placed), crash: placed };
}
