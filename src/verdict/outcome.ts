// Verdicts: what a run of one spec under one profile produced, expectation by expectation.
import type { ProfileName } from "../engine/types.js";
import type { CompiledSpec } from "../compile/program.js";

/**
 * `unseen`: a real backend ran the step but could not see its answer (`actual` is `unseen: why`):
 * the expectation is neither matched nor diverged, whatever its operator or xfail.
 */
export type ExpectationVerdict = "matched" | "diverged" | "skipped" | "xfail" | "xpass" | "unseen";
export type RunStatus = "passed" | "diverged" | "crashed" | "error" | "unsupported";

/**
 * Real software that died under a spec: the host's kernel (L1's, or a POWER host's) or the
 * machine's QEMU. A verdict on that software, never an error of the tool.
 */
export interface CrashReport {
  software: "host kernel" | "QEMU";
  /** The report's first line: "BUG: Unable to handle kernel data access at 0x…", QEMU's assertion, "killed by SIGSEGV". */
  report: string;
  /** Where it faulted: "kvmppc_tce_put+0x5c/0xa0". */
  function?: string;
  /** The call trace, innermost first. */
  trace?: string[];
  /**
   * A WARN: the kernel reported and went on, and so did the guest (its expectations were all
   * observed). Read from L1's kernel log after the guest, placed among the guest's lines.
   */
  warning?: true;
  /** Later WARNs in the same guest, their first lines (a WARN's consequences at QEMU's exit, say). */
  also?: string[];
  /** A WARN at no statement: as the guest's QEMU started or exited, or where the log cannot say. */
  phase?: "start" | "exit" | "unplaced";
  /** The step that was running: its place in the spec and its source. */
  line?: number;
  column?: number;
  source?: string;
}

/** A table as it stood when an expectation diverged, in the language's printed forms. */
export interface TableState {
  liobn: string;
  phb: number;
  window: number;
  placement: "kvm" | "userspace";
  windowSize: string;
  pageSize: string;
  /** A hardware table exists (a vfio-pci device sits on the PHB). */
  hardware: boolean;
  /** Mapped stretches: the guest view's entry and the hardware table's; `differs` where they disagree. */
  rows: { ioba: string; count: number; guest: string; hw?: string; differs: boolean }[];
  more: number;
}

export interface ExpectationOutcome {
  line: number;
  column: number;
  outcome: ExpectationVerdict;
  /** The source of the statement, as written. */
  source: string;
  expected: string;
  actual: string;
  /** `==` or `!=`. */
  op: "==" | "!=";
  /** Set for a bare action: what it had to do. */
  action?: boolean;
  /**
   * What a real backend adds to its answer without changing it: how much a probe looked at, what
   * it saw where the answer is no ("probed 3 of 3 written IOBAs; 0x1000: 0x0, the guest view calls for 0x1003").
   */
  note?: string;
  xfail?: string;
  /** Steps run before this one (the last MAX_STEPS of them), for diverged and xpass outcomes. */
  steps?: string[];
  stepsOmitted?: number;
  /** Every table at that point, when the backend can show it (the model can). */
  state?: TableState[];
}

export interface RunResult {
  file: string;
  suite: string;
  spec: string;
  tags: string[];
  profile: ProfileName;
  backend: string;
  status: RunStatus;
  /** Why a run errored or is unsupported on its backend; for a crash, the crash in one line. */
  reason?: string;
  /** The software that crashed under this run, and at which step (status `crashed`, or a crash the spec expects). */
  crash?: CrashReport;
  expectations: ExpectationOutcome[];
}

export const MAX_STEPS = 50;

/**
 * An answer a real backend could not see, with why: printed as `unseen: why`. It is no value to
 * compare, so no model's answer disagrees with it.
 */
const UNSEEN = "unseen: ";
export const unseen = (why: string) => `${UNSEEN}${why}`;
export const isUnseen = (actual: string) => actual.startsWith(UNSEEN);
/** Two answers disagree: they differ, and neither is one a real backend could not see. */
export const disagree = (a: string, b: string) => a !== b && !isUnseen(a) && !isUnseen(b);

export function statusOf(expectations: ExpectationOutcome[]): RunStatus {
  return expectations.some((e) => e.outcome === "diverged" || e.outcome === "xpass") ? "diverged" : "passed";
}

/** What names a run: the spec, the profile and the backend. */
/** A crash in one line: what crashed, its report, where. */
export function describeCrash(crash: CrashReport): string {
  const phases = {
    start: " before the guest's first step, as its QEMU started",
    exit: " after the guest's last step, as its QEMU exited",
    unplaced: " while the guest ran (the kernel log holds no copy of the guest's lines to place it among)",
  };
  const at = crash.line !== undefined ? ` at line ${crash.line}${crash.source ? ` (${crash.source})` : ""}` : crash.phase ? phases[crash.phase] : "";
  return `${crash.software === "QEMU" ? "QEMU" : "the host kernel"} ${crash.warning ? "warned" : "crashed"}${at}: ${crash.report}${crash.function ? ` in ${crash.function}` : ""}`;
}

export function runOf(
  spec: CompiledSpec,
  profile: ProfileName,
  backend: string,
): Pick<RunResult, "file" | "suite" | "spec" | "tags" | "profile" | "backend"> {
  return { file: spec.file, suite: spec.suite, spec: spec.name, tags: spec.tags, profile, backend };
}

/** A run that could not finish: the backend threw. */
export function errorRun(spec: CompiledSpec, profile: ProfileName, backend: string, error: unknown): RunResult {
  const reason = error instanceof Error ? error.message : String(error);
  return { ...runOf(spec, profile, backend), status: "error", reason: `internal error: ${reason}`, expectations: [] };
}
