// The qemu backend: a spec compiled into a bare-metal guest, run on qemu-system-ppc64 under
// TCG, its answers read back from the console and judged by the same evaluator as the model.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompiledSpec } from "../../compile/program.js";
import type { HcallRc, Operation, Outcome, ProfileName, RtasStatus } from "../../engine/types.js";
import { HCALL_RC, RTAS_STATUS } from "../../engine/types.js";
import { evaluate, type Target } from "../../run/evaluate.js";
import { runOf, type RunResult } from "../../run/outcome.js";
import type { Backend } from "../backend.js";
import { buildGuest, linesOf, type GuestCall } from "./guest.js";
import { planFor } from "./plan.js";
import { runQemu } from "./process.js";

export interface QemuOptions {
  binary?: string;
  timeoutMs?: number;
}

export const QEMU_BASE_ARGS = [
  "-M",
  "pseries,x-vof=on",
  "-accel",
  "tcg",
  "-m",
  "1G",
  "-display",
  "none",
  "-monitor",
  "none",
  "-serial",
  "stdio",
];

function hcallName(value: bigint): HcallRc {
  const found = Object.entries(HCALL_RC).find(([, v]) => v === value);
  return (found?.[0] ?? `H_UNKNOWN(${value})`) as HcallRc;
}
function rtasName(value: bigint): RtasStatus {
  const found = Object.entries(RTAS_STATUS).find(([, v]) => v === value);
  return (found?.[0] ?? `RTAS_UNKNOWN(${value})`) as RtasStatus;
}

/** Two 64-bit values per line: signed for return codes, unsigned for values. */
function parseLine(line: string): [bigint, bigint] {
  if (!/^[0-9a-f]{32}$/.test(line)) throw new Error(`unreadable guest output line '${line.slice(0, 40)}'`);
  return [BigInt.asIntN(64, BigInt(`0x${line.slice(0, 16)}`)), BigInt(`0x${line.slice(16)}`)];
}

/** What a call answered, in the engine's terms. */
function decode(call: GuestCall, lines: string[]): Outcome {
  const words = lines.flatMap(parseLine);
  if (call.kind === "hcall") return { kind: "hcall", code: hcallName(words[0]!), value: BigInt.asUintN(64, words[1]!) };
  const code = rtasName(words[0]!);
  if (code !== "RTAS_OK") return { kind: "rtas", code };
  switch (call.token) {
    case 0x2027n:
      return { kind: "rtas", code, liobn: words[1]!, busOffset: (words[2]! << 32n) | words[3]! };
    case 0x2026n:
      return { kind: "rtas", code, free: Number(words[1]!), pageMask: words[3]! };
    default:
      return { kind: "rtas", code };
  }
}

export class QemuBackend implements Backend {
  readonly name = "qemu";
  readonly profiles: readonly ProfileName[] = ["qemu-7.2"];
  private readonly binary: string;
  private readonly timeoutMs: number;

  constructor(options: QemuOptions = {}) {
    this.binary = options.binary ?? process.env.TCESPEC_QEMU ?? "qemu-system-ppc64";
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  async run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult> {
    const base = { ...runOf(spec, profile, this.name), expectations: [] };
    const plan = planFor(spec, profile);
    if ("unsupported" in plan) return { ...base, status: "unsupported", reason: plan.unsupported };
    const dir = mkdtempSync(join(tmpdir(), "tcespec-"));
    try {
      const kernel = join(dir, "guest.elf");
      const calls = plan.steps.flatMap((step) => step.calls);
      writeFileSync(kernel, buildGuest(calls));
      const result = await runQemu(this.binary, [...QEMU_BASE_ARGS, ...plan.args, "-kernel", kernel], this.timeoutMs);
      if ("error" in result) return { ...base, status: "error", reason: result.error };
      const expectedLines = calls.reduce((n, c) => n + linesOf(c), 0);
      if (result.lines.length !== expectedLines)
        return { ...base, status: "error", reason: `the guest printed ${result.lines.length} result lines, ${expectedLines} were due` };
      let line = 0;
      const answers = plan.steps.map((step) =>
        step.read(
          step.calls.map((call) => {
            const outcome = decode(call, result.lines.slice(line, line + linesOf(call)));
            line += linesOf(call);
            return outcome;
          }),
        ),
      );
      return evaluate(spec, profile, replay(answers), this.name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The recorded answers, handed out in the order the evaluator asks for them. */
function replay(answers: (Outcome | string)[]): Target {
  let next = 0;
  const take = (): Outcome | string => {
    if (next >= answers.length) throw new Error("internal: the evaluator asked QEMU more than the plan holds");
    return answers[next++]!;
  };
  return {
    apply: (operation: Operation) => {
      if (operation.kind === "add_phb") return { kind: "done" };
      const answer = take();
      if (typeof answer === "string") throw new Error("internal: an operation was planned as a probe");
      return answer;
    },
    observe: () => {
      const answer = take();
      if (typeof answer !== "string") throw new Error("internal: a probe was planned as an operation");
      return answer;
    },
  };
}
