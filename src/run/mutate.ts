// `tcespec mutate`: each mutant in mutants/ (a patch on Debian's QEMU source bringing a known bug
// back) is built and the library is run on it; a spec kills it when it matched on stock QEMU (the
// same source built without the patch) and diverges on the mutant. A mutant no spec kills is a
// hole in the library.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { Backend, BackendOptions } from "../backends/backend.js";
import type { BuildTarget } from "../backends/qemu/build.js";
import type { QemuVersion } from "../backends/qemu/versions.js";
import { compareReports, kills, type SpecComparison } from "./compare.js";
import { run, type Report, type RunOptions } from "./runner.js";

export interface Mutant {
  /** The patch's file name without .patch */
  name: string;
  file: string;
  /** The header's first line: what the mutant is. */
  title: string;
}

export interface MutantResult {
  mutant: Mutant;
  build?: string;
  /** Why it could not be judged (its build failed, nothing ran). */
  error?: string;
  killedBy: { file: string; spec: string; line?: number; source?: string; stock?: string; mutant?: string; crash?: string }[];
  /** Runs that errored on the mutant (they kill nothing unless QEMU crashed). */
  errors: number;
}

export interface MutateResult {
  baseline: { build: string; report: Report; diverged: SpecComparison["a"][] };
  mutants: MutantResult[];
}

/** The mutants in a directory: every *.patch, in name order. */
export function findMutants(dir: string): Mutant[] | { problem: string } {
  if (!existsSync(dir)) return { problem: `${dir}: no such directory (the mutants are patches in it)` };
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".patch"))
    .sort();
  if (files.length === 0) return { problem: `${dir} holds no .patch file` };
  return files.map((f) => {
    const file = join(dir, f);
    const title = readFileSync(file, "utf8").split("\n")[0]!.replace(/^Mutant:\s*/, "").trim();
    return { name: basename(f, ".patch"), file, title };
  });
}

export interface MutateOptions {
  paths: string[];
  mutants: Mutant[];
  /** Debian's source the mutants patch. */
  debian: QemuVersion;
  backend: "kvm" | "qemu";
  backendOptions?: BackendOptions;
  run?: Omit<RunOptions, "backends">;
  say?: (message: string) => void;
  /** Makes a backend; default: backends/index.ts's createBackend (a test's stand-in otherwise). */
  createBackend?: (name: string, options: BackendOptions) => Promise<Backend>;
  /** Builds a patch set by name on Debian's source; default: backends/qemu/build.ts's buildQemu. */
  build?: (name: string, patches: string[], target: BuildTarget) => Promise<void>;
}

/** The real machinery, for whatever the caller did not stand in for. */
async function defaults(options: MutateOptions) {
  const createBackend = options.createBackend ?? (await import("../backends/index.js")).createBackend;
  const buildQemu = options.build ? undefined : (await import("../backends/qemu/build.js")).buildQemu;
  const build =
    options.build ??
    (async (name: string, patches: string[], target: BuildTarget) => {
      await buildQemu!({ name, source: { debian: options.debian }, patches, targets: [target] });
    });
  return { createBackend, build, say: options.say ?? (() => {}) };
}

async function runOn(options: MutateOptions, createBackend: NonNullable<MutateOptions["createBackend"]>, build: string): Promise<Report> {
  const backend = await createBackend(options.backend, { ...options.backendOptions, qemuBuild: build });
  try {
    return await run(options.paths, { ...options.run, backends: [backend] });
  } finally {
    await backend.close?.();
  }
}

export async function mutate(options: MutateOptions): Promise<MutateResult> {
  const { createBackend, build, say } = await defaults(options);
  const target: BuildTarget = options.backend === "kvm" ? "kvm" : "tcg";
  const stock = `stock-${options.debian}`;
  say(`building ${stock} (Debian's ${options.debian} source, no patch): the baseline`);
  await build(stock, [], target);
  say(`running ${options.paths.join(" ")} on ${stock}`);
  const baseline = await runOn(options, createBackend, stock);
  const results: MutantResult[] = [];
  for (const mutant of options.mutants) {
    const name = `mutant-${mutant.name}`;
    try {
      say(`building ${name} (${basename(mutant.file)})`);
      await build(name, [mutant.file], target);
    } catch (error) {
      results.push({ mutant, error: `its build failed: ${(error as Error).message}`, killedBy: [], errors: 0 });
      continue;
    }
    say(`running ${options.paths.join(" ")} on ${name}`);
    const report = await runOn(options, createBackend, name);
    const found = kills(compareReports(report, baseline));
    const errors = report.runs.filter((r) => r.status === "error").length;
    const executed = report.runs.filter((r) => r.status !== "unsupported").length;
    results.push({
      mutant,
      build: name,
      ...(executed === 0 ? { error: "no spec ran on it" } : {}),
      killedBy: found.map((k) => ({
        file: k.comparison.file,
        spec: k.comparison.spec,
        ...(k.difference
          ? { line: k.difference.line, source: k.difference.source, stock: k.difference.b.actual, mutant: k.difference.a.actual }
          : { crash: k.crash! }),
      })),
      errors,
    });
  }
  return { baseline: { build: stock, report: baseline, diverged: baseline.runs.filter((r) => r.status === "diverged" || r.status === "error") }, mutants: results };
}

/** The result as text: each mutant killed (by which specs, where) or survived. */
export function formatMutate(result: MutateResult): string {
  const out: string[] = [];
  const judged = result.baseline.report.backends.find((b) => b.identity)?.identity;
  out.push(`baseline ${result.baseline.build}${judged ? `: ${[judged.qemu, judged.kernel ? `on Linux ${judged.kernel}` : ""].filter(Boolean).join(" ")}` : ""}`);
  for (const r of result.baseline.diverged) out.push(`  (not passing on stock, so it kills nothing: ${r!.file} "${r!.spec}" ${r!.status}${r!.reason ? `: ${r!.reason}` : ""})`);
  for (const m of result.mutants) {
    const specs = [...new Set(m.killedBy.map((k) => `${k.file} "${k.spec}"`))];
    const verdict = m.error ? `not judged: ${m.error}` : specs.length > 0 ? `killed by ${specs.length} spec${specs.length === 1 ? "" : "s"}` : "SURVIVED: no spec kills it";
    out.push("", `mutant ${m.mutant.name} (${m.mutant.file}): ${verdict}`, `  ${m.mutant.title}`);
    for (const k of m.killedBy.slice(0, 12))
      out.push(k.crash ? `  ${k.file} "${k.spec}": QEMU crashed: ${k.crash}` : `  ${k.file}:${k.line} "${k.spec}": ${k.source}  stock: ${k.stock}  mutant: ${k.mutant}`);
    if (m.killedBy.length > 12) out.push(`  … and ${m.killedBy.length - 12} more expectations`);
    if (m.errors > 0) out.push(`  (${m.errors} run${m.errors === 1 ? "" : "s"} errored on the mutant)`);
  }
  const killed = result.mutants.filter((m) => !m.error && m.killedBy.length > 0).length;
  const survived = result.mutants.filter((m) => !m.error && m.killedBy.length === 0).length;
  const unjudged = result.mutants.length - killed - survived;
  out.push("", `${result.mutants.length} mutants: ${killed} killed, ${survived} survived${unjudged > 0 ? `, ${unjudged} not judged` : ""}`);
  return `${out.join("\n")}\n`;
}

export function mutateExitCode(result: MutateResult): number {
  if (result.mutants.some((m) => m.error)) return 2;
  return result.mutants.some((m) => m.killedBy.length === 0) ? 1 : 0;
}
