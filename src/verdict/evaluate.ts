// Evaluating a compiled spec against anything that can apply operations and answer probes.
import type { KernelRulesName } from "../engine/kvm.js";
import type { HostName } from "../profile-names.js";
import { PROFILES } from "../engine/profiles.js";
import type { CompiledSpec, Expected, Probe } from "../compile/program.js";
import type { Pos } from "../compile/ast.js";
import type { Operation, Outcome, ProfileName, TablePicture } from "../engine/types.js";
import { hex, isHcallCode, isRtasStatus, sameValue, size } from "../values.js";
import { isUnseen, MAX_STEPS, runOf, statusOf, unseen, type ExpectationOutcome, type RunResult, type TableState } from "./outcome.js";
import { unreachable } from "../unreachable.js";

/** The engine (or a recording of QEMU) as the evaluator sees it. */
export interface Target {
  /** `at` is the step's place in the spec, for whoever must say where it cannot go on. */
  apply(operation: Operation, at: Pos): Outcome;
  /** The actual value of a non-operation probe, in the language's printed form. */
  observe(probe: Exclude<Probe, { kind: "operation" }>, at: Pos): string;
  /** Every table as it stands, for the report of a divergence; a backend that cannot see them leaves it out. */
  picture?(): TablePicture[];
}

function printed(tables: TablePicture[]): TableState[] {
  return tables.map((t) => ({
    liobn: hex(t.liobn),
    phb: t.phbIndex,
    window: t.window,
    placement: t.placement,
    windowSize: size(t.windowSize),
    pageSize: size(t.pageSize),
    hardware: t.hardware,
    rows: t.rows.map((r) => ({ ioba: hex(r.ioba), count: r.count, guest: hex(r.guest), ...(r.hw !== undefined ? { hw: hex(r.hw) } : {}), differs: r.differs })),
    more: t.more,
  }));
}

function isCode(text: string): boolean {
  return isHcallCode(text) || isRtasStatus(text);
}

/** An operation's answer in the form the expectation is written in. */
export function actualOf(outcome: Outcome, expected: Expected): string {
  switch (outcome.kind) {
    case "hcall":
      if (isCode(expected.text) || outcome.code !== "H_SUCCESS" || outcome.value === undefined) return outcome.code;
      return hex(outcome.value);
    case "rtas":
      if (isCode(expected.text) || outcome.code !== "RTAS_OK") return outcome.code;
      if (outcome.liobn !== undefined) return hex(outcome.liobn);
      if (outcome.free !== undefined) return String(outcome.free);
      return outcome.code;
    case "dma":
      return dmaActual(outcome);
    case "migrate":
      return outcome.ok ? "ok" : "blocked";
    case "done":
      return "done";
    default:
      return unreachable(outcome);
  }
}

/** Where a DMA landed, that it faulted, or why a real backend could not see which. */
function dmaActual(outcome: Extract<Outcome, { kind: "dma" }>): string {
  return outcome.unseen !== undefined ? unseen(outcome.unseen) : outcome.address === undefined ? "fault" : hex(outcome.address);
}

/** What a bare action must answer, and whether it did. */
export function bareSuccess(outcome: Outcome): { expected: string; actual: string; ok: boolean } {
  switch (outcome.kind) {
    case "hcall":
      return { expected: "H_SUCCESS", actual: outcome.code, ok: outcome.code === "H_SUCCESS" };
    case "rtas":
      return { expected: "RTAS_OK", actual: outcome.code, ok: outcome.code === "RTAS_OK" };
    case "dma":
      return {
        expected: "an address",
        actual: dmaActual(outcome),
        ok: outcome.address !== undefined,
      };
    case "migrate":
      return { expected: "ok", actual: outcome.ok ? "ok" : "blocked", ok: outcome.ok };
    case "done":
      return { expected: "done", actual: "done", ok: true };
    default:
      return unreachable(outcome);
  }
}

/**
 * `kernel`: the host kernel rules the run stands for (`when kernel …`): the model's (--kernel-rules,
 * a kernel build's), else the profile's own. `host`: the host it stands for (`when host …`):
 * pseries unless a run says otherwise (--kvm-host).
 */
export function evaluate(spec: CompiledSpec, profile: ProfileName, target: Target, backend: string, bail = false, kernel?: KernelRulesName, host: HostName = "pseries"): RunResult {
  const kernelRules = kernel ?? PROFILES[profile].kvm.id;
  const expectations: ExpectationOutcome[] = [];
  // The steps run so far, as indices: their text is made only for a divergence.
  const history: number[] = [];
  const record = (index: number) => history.push(index);
  const withSteps = (outcome: ExpectationOutcome): ExpectationOutcome => {
    const steps = history.slice(-MAX_STEPS).map((i) => {
      const step = spec.steps[i]!;
      return `${step.line}:${step.column} ${step.source}`;
    });
    const state = target.picture && printed(target.picture());
    return { ...outcome, steps, stepsOmitted: history.length - steps.length, ...(state ? { state } : {}) };
  };
  for (let index = 0; index < spec.steps.length; index++) {
    const step = spec.steps[index]!;
    if (step.kind === "do") {
      const outcome = target.apply(step.operation, step);
      const verdict = bareSuccess(outcome);
      if (!verdict.ok) {
        expectations.push(
          withSteps({
            line: step.line,
            column: step.column,
            outcome: "diverged",
            source: step.source,
            expected: verdict.expected,
            actual: verdict.actual,
            op: "==",
            action: true,
          }),
        );
      }
      record(index);
      if (!verdict.ok && bail) break;
      continue;
    }
    const base = {
      line: step.line,
      column: step.column,
      source: step.source,
      expected: step.expected.text,
      op: step.expected.op,
      xfail: step.xfail,
    };
    if ((step.when && !step.when.includes(profile)) || (step.whenKernel && !step.whenKernel.includes(kernelRules)) || (step.whenHost && !step.whenHost.includes(host))) {
      expectations.push({ ...base, outcome: "skipped", actual: "" });
      continue;
    }
    const actual =
      step.probe.kind === "operation" ? actualOf(target.apply(step.probe.operation, step), step.expected) : target.observe(step.probe, step);
    const equal = sameValue(step.expected.text, actual);
    const holds = step.expected.op === "==" ? equal : !equal;
    let outcome: ExpectationOutcome;
    // An answer a real backend could not see is no verdict, `!=` and xfail ones included.
    if (isUnseen(actual)) outcome = { ...base, actual, outcome: "unseen" };
    else if (step.xfail !== undefined)
      outcome = holds ? withSteps({ ...base, actual, outcome: "xpass" }) : { ...base, actual, outcome: "xfail" };
    else outcome = holds ? { ...base, actual, outcome: "matched" } : withSteps({ ...base, actual, outcome: "diverged" });
    expectations.push(outcome);
    record(index);
    if (bail && (outcome.outcome === "diverged" || outcome.outcome === "xpass")) break;
  }
  return { ...runOf(spec, profile, backend), status: statusOf(expectations), expectations };
}
