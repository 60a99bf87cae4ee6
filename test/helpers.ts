// Shared test helpers: compile spec text and run it on the model.
import { compileSource } from "../src/compile/index.js";
import type { CompiledSpec } from "../src/compile/program.js";
import { ModelBackend } from "../src/backends/model.js";
import type { ProfileName } from "../src/engine/types.js";
import type { RunResult } from "../src/verdict/outcome.js";
import { main } from "../src/cli.js";
import { readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { PROFILE_NAMES } from "../src/profile-names.js";

export function compile(text: string, file = "t.tce") {
  return compileSource(file, text);
}

/** The one compiled spec of a text; fails the test on diagnostics. */
export function specOf(text: string, name?: string): CompiledSpec {
  const result = compile(text);
  if (result.diagnostics.length > 0) throw new Error(result.diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`).join("\n"));
  const specs = result.program!.specs;
  return name === undefined ? specs[0]! : specs.find((s) => s.name === name)!;
}

export function runText(text: string, profile: ProfileName, name?: string): RunResult {
  return new ModelBackend().runSync(specOf(text, name), profile);
}

/** The outcomes of a run as "line:outcome" strings, for compact assertions. */
export function outcomes(run: RunResult): string[] {
  return run.expectations.map((e) => `${e.line}:${e.outcome}`);
}

export async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await main(
    args,
    (t) => (out += t),
    (t) => (err += t),
  );
  return { code, out, err };
}

/** Every profile, from its one definition. */
export const PROFILES: readonly ProfileName[] = PROFILE_NAMES;

/** Gone, or a zombie nobody has reaped yet (a container's init may not): it runs no more. */
export function isGone(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.startsWith("Z");
  } catch {
    return true;
  }
}

/** The command is installed (it answers `--version`). */
export function hasCommand(binary: string): boolean {
  try {
    execFileSync(binary, ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}
