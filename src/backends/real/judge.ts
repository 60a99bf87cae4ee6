// The judge: what a real machine printed, read back as the answers of a plan's calls, and the
// evaluator's second walk over them.
import { unseen } from "../../verdict/outcome.js";
import type { CompiledSpec } from "../../compile/program.js";
import type { Outcome, ProfileName } from "../../engine/types.js";
import { HCALL_RC, RTAS_STATUS, type HcallRc, type RtasStatus } from "../../engine/types.js";
import { HCALL, RTAS_TOKENS } from "../../papr.js";
import { evaluate, type Target } from "../../verdict/evaluate.js";
import type { RunResult } from "../../verdict/outcome.js";
import { linesOf, type GuestCall } from "../guest/guest.js";
import { parseLine, type GuestOutput } from "./console.js";
import type { Answer, GuestPlan } from "./traits.js";

/** Operations that configure the machine rather than run in the guest. */
const isConfiguration = (operation: { kind: string }) => operation.kind === "add_phb";

function hcallName(value: bigint): HcallRc {
  const found = Object.entries(HCALL_RC).find(([, v]) => v === value);
  return (found?.[0] ?? `H_UNKNOWN(${value})`) as HcallRc;
}
function rtasName(value: bigint): RtasStatus {
  const found = Object.entries(RTAS_STATUS).find(([, v]) => v === value);
  return (found?.[0] ?? `RTAS_UNKNOWN(${value})`) as RtasStatus;
}

/** What a call answered, in the engine's terms. */
function decode(call: Extract<GuestCall, { kind: "hcall" | "rtas" }>, lines: string[]): Outcome {
  const words = lines.flatMap(parseLine);
  if (call.kind === "hcall") return { kind: "hcall", code: hcallName(words[0]!), value: BigInt.asUintN(64, words[1]!) };
  const code = rtasName(words[0]!);
  if (code !== "RTAS_OK") return { kind: "rtas", code };
  switch (call.token) {
    case RTAS_TOKENS.create:
      return { kind: "rtas", code, liobn: words[1]!, busOffset: (words[2]! << 32n) | words[3]! };
    case RTAS_TOKENS.query:
      return { kind: "rtas", code, free: Number(words[1]!), pageMask: words[3]! };
    default:
      return { kind: "rtas", code };
  }
}

/** What a probe reads after the host crashed: `host` reads "crashed"; nothing else was seen. */
const AFTER_CRASH = Symbol("after the crash");

/**
 * Judges a run from what the machine printed: the evaluator walks the spec again over the answers.
 * `crashedAt`: real software crashed during this plan step; the steps before it are judged from
 * what they printed, and from it on nothing is read (the caller marks those expectations).
 */
export function judge(
  spec: CompiledSpec,
  profile: ProfileName,
  plan: GuestPlan,
  output: GuestOutput,
  backend: string,
  crashedAt?: number,
  /** The step under which the host kernel WARNed (the guest went on): `expect host` reads `warned` from there. */
  warnedAt?: number,
  /** Why the host's log after the guest's exit was read too early to say `ok` (console.ts UNSETTLED): `expect host … at exit` is unseen. */
  unsettled?: string,
): RunResult | string {
  const calls = plan.steps.flatMap((step) => step.calls);
  const due = calls.reduce((n, c) => n + linesOf(c), 0);
  // A DMA ends with a mark (what the host saw it translate); a plug is a host step.
  const marksDue = calls.filter((c) => c.kind === "mark" || c.kind === "dma").length;
  const hostDue = calls.filter((c) => c.kind === "host" || c.kind === "plug").length;
  if (crashedAt === undefined) {
    if (output.failures?.length) return output.failures[0]!;
    if (output.lines.length !== due) return `the guest printed ${output.lines.length} result lines, ${due} were due`;
    if (output.marks.length !== marksDue) return `the host saw ${output.marks.length} marks, ${marksDue} were due`;
    if (output.host.length !== hostDue) return `the host took ${output.host.length} steps, ${hostDue} were due`;
  }
  let line = 0;
  let mark = 0;
  let host = 0;
  const read = plan.steps.map((step, index) => {
    if (crashedAt !== undefined && index >= crashedAt) return { value: AFTER_CRASH as Outcome | string | typeof AFTER_CRASH, note: undefined as string | undefined };
    const raw = step.calls.map((call): Answer => {
      if (call.kind === "mark" || call.kind === "dma") return output.marks[mark++]!;
      if (call.kind === "host" || call.kind === "plug") return output.host[host++]!;
      if (call.kind === "vfio-dma") {
        const words = parseLine(output.lines[line++]!).map((w) => BigInt.asUintN(64, w));
        return { probe: [words[0]!, words[1]!] };
      }
      if (call.kind === "scratch") {
        // The scratch entry's put, when there was one: an answer no expectation reads.
        if (!call.used) return { kind: "done" };
        return decode({ kind: "hcall", opcode: HCALL.H_PUT_TCE, args: [] }, output.lines.slice(line, (line += 1)));
      }
      const outcome = decode(call, output.lines.slice(line, line + linesOf(call)));
      line += linesOf(call);
      return outcome;
    });
    const got = step.read(raw);
    return typeof got === "object" && "answer" in got ? { value: got.answer as Outcome | string | typeof AFTER_CRASH, note: got.note } : { value: got as Outcome | string | typeof AFTER_CRASH, note: undefined };
  });
  let next = 0;
  /** Notes by the expectation's place (line:column), put on its outcome once the evaluator is done. */
  const notes = new Map<string, string>();
  const take = (at: { line: number; column: number }): Outcome | string | typeof AFTER_CRASH => {
    if (next >= read.length) throw new Error("internal: the evaluator asked the machine more than the plan holds");
    const { value, note } = read[next++]!;
    if (note !== undefined) notes.set(`${at.line}:${at.column}`, note);
    return value;
  };
  const replay: Target = {
    apply: (operation, at) => {
      if (isConfiguration(operation)) return { kind: "done" };
      const answer = take(at);
      if (answer === AFTER_CRASH) return { kind: "done" };
      if (typeof answer === "string") throw new Error("internal: an operation was planned as a probe");
      return answer;
    },
    observe: (probe, at) => {
      const answer = take(at);
      if (answer === AFTER_CRASH) return probe.kind === "host" ? "crashed" : "not reached";
      if (typeof answer !== "string") throw new Error("internal: a probe was planned as an operation");
      // At exit: over the whole run, the machine's end included (a WARN as its QEMU exited is placed after every step).
      if (probe.kind === "host" && probe.atExit) return crashedAt !== undefined ? "crashed" : warnedAt !== undefined ? "warned" : unsettled !== undefined ? unseen(unsettled) : "ok";
      if (probe.kind === "host" && warnedAt !== undefined && next - 1 >= warnedAt) return "warned";
      return answer;
    },
  };
  const result = evaluate(spec, profile, replay, backend, false, plan.kernel, plan.host);
  if (notes.size === 0) return result;
  return {
    ...result,
    expectations: result.expectations.map((e) => {
      const note = notes.get(`${e.line}:${e.column}`);
      return note === undefined ? e : { ...e, note };
    }),
  };
}
