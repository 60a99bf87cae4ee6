// The qemu backend: a spec compiled into a bare-metal guest, run on qemu-system-ppc64 under
// TCG, its answers read back from the console and judged by the same evaluator as the model.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { CompiledSpec, Probe } from "../../compile/program.js";
import type { HcallRc, Operation, Outcome, ProfileName, RtasStatus } from "../../engine/types.js";
import { HCALL_RC, RTAS_STATUS } from "../../engine/types.js";
import { evaluate, type Target } from "../../run/evaluate.js";
import type { RunResult } from "../../run/outcome.js";
import { hex } from "../../values.js";
import type { Backend } from "../backend.js";
import { buildGuest, linesOf, type GuestCall } from "./guest.js";
import { planFor } from "./plan.js";
import { runQemu } from "./process.js";

export interface QemuOptions {
  binary?: string;
  timeoutMs?: number;
}

export const QEMU_BASE_ARGS = ["-M", "pseries,x-vof=on", "-accel", "tcg", "-m", "1G", "-display", "none", "-monitor", "none", "-serial", "stdio"];

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
    const base = { file: spec.file, suite: spec.suite, spec: spec.name, tags: spec.tags, profile, backend: this.name, expectations: [] };
    const plan = planFor(spec, profile);
    if ("unsupported" in plan) return { ...base, status: "unsupported", reason: plan.unsupported };
    const dir = mkdtempSync(join(tmpdir(), "tcespec-"));
    try {
      const kernel = join(dir, "guest.elf");
      writeFileSync(kernel, buildGuest(plan.calls));
      const result = await runQemu(this.binary, [...QEMU_BASE_ARGS, ...plan.args, "-kernel", kernel], this.timeoutMs);
      if ("error" in result) return { ...base, status: "error", reason: result.error };
      const expectedLines = plan.calls.reduce((n, c) => n + linesOf(c), 0);
      if (result.lines.length !== expectedLines) return { ...base, status: "error", reason: `the guest printed ${result.lines.length} result lines, ${expectedLines} were due` };
      const outcomes: Outcome[] = [];
      let at = 0;
      for (const call of plan.calls) {
        outcomes.push(decode(call, result.lines.slice(at, at + linesOf(call))));
        at += linesOf(call);
      }
      return evaluate(spec, profile, replay(outcomes), this.name);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

/** The recorded answers, handed out in the order the evaluator asks for them. */
function replay(outcomes: Outcome[]): Target {
  let next = 0;
  const take = (): Outcome => {
    const outcome = outcomes[next++];
    if (!outcome) throw new Error("internal: the evaluator asked QEMU more than the plan holds");
    return outcome;
  };
  return {
    apply: (operation: Operation) => (operation.kind === "add_phb" ? { kind: "done" } : take()),
    observe: (probe: Exclude<Probe, { kind: "operation" }>) => {
      const outcome = take();
      if (probe.kind === "guest") {
        return outcome.kind === "hcall" && outcome.code === "H_SUCCESS" ? hex(outcome.value ?? 0n) : `no entry (${outcome.kind === "hcall" ? outcome.code : "?"})`;
      }
      // windows(PHB): the query's free windows, of two.
      return outcome.kind === "rtas" && outcome.free !== undefined ? String(2 - outcome.free) : `query failed (${outcome.kind === "rtas" ? outcome.code : "?"})`;
    },
  };
}
