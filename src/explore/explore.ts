// `tcespec explore`: random scenarios built from the language's statements and their boundary
// values, run on two sides (two profiles of the model, or the model and a real backend); every
// difference is shrunk to a minimal scenario and written as a runnable spec whose expectations
// are the reference side's answers.
import { compileSource } from "../compile/index.js";
import type { CompiledSpec } from "../compile/program.js";
import type { RunResult } from "../verdict/outcome.js";
import { Random } from "./random.js";

/** One side of the comparison: the reference (first) or the other. */
export interface Side {
  name: string;
  run(spec: CompiledSpec): Promise<RunResult> | RunResult;
}

/** What the sides can run: real backends cannot do everything the language says. */
export interface Abilities {
  machine: "tcg" | "kvm" | "any";
  vfio: boolean;
  unplug: boolean;
  devices: boolean;
  resetMigrate: boolean;
}

export interface Scenario {
  machine: string;
  phbs: { name: string; line: string }[];
  steps: { action: string; probes: string[] }[];
}

export interface Finding {
  kind: "difference" | "crash";
  signature: string;
  /** The minimal spec, ready to run. */
  text: string;
  statements: number;
  /**
   * What running the written spec showed: `true` where it passes on the first side and does not
   * on the second (the difference, or the crash, is still there); otherwise why not. The
   * explorer runs every spec before it writes it.
   */
  reproduces: true | string;
}

export interface Progress {
  tried: number;
  /** Scenarios one side could not run (unsupported there) or that did not compile. */
  skipped: number;
  found: number;
  shrinking: boolean;
}

export interface ExploreOptions {
  seed: number;
  /** Scenarios to try, or milliseconds to spend (whichever is given). */
  count?: number;
  ms?: number;
  sides: [Side, Side];
  abilities: Abilities;
  command: string;
  progress?: (p: Progress) => void;
  /** Scenarios compared at once (real machines run side by side); the findings do not depend on it. */
  jobs?: number;
  /** Steps per scenario (default 8). */
  length?: number;
}

const IOBAS = ["0x0", "0x1000", "0x1001", "0x3fff_f000", "0x4000_0000", "0x800_0000_0000_0000", "0x800_0000_0001_0000"];
const TCES = ["0x0", "0x1", "0x1003", "0x12340003", "0x12340007", "0xffffffffffffffff"];
const COUNTS = ["0", "1", "2", "512", "513", "262144", "262145"];
const PAGES = ["4K", "64K", "2M", "16M"];
const SIZES = ["1G", "1T", "1P"];
const CAPS = ["spapr_tce", "spapr_tce_64", "spapr_tce_vfio", "multi_tce"];

/** A random scenario within what the sides can run. */
export function generate(random: Random, abilities: Abilities, length = 8): Scenario {
  const kvm = abilities.machine === "kvm" || (abilities.machine === "any" && random.chance(0.6));
  const caps = CAPS.filter(() => random.chance(0.6));
  const machine = kvm ? `machine kvm${caps.length > 0 ? ` caps ${caps.join(", ")}` : ""}` : "machine tcg";
  const phbs = [{ name: "phb0", line: "phb phb0 index 0" }];
  if (random.chance(0.4)) {
    const index = random.pick([1, 2, 30]);
    const dma32 = random.pick(["256M", "1G", "2G", "4G", "8G"]);
    phbs.push({ name: "phbx", line: `phb phbx index ${index} dma32 ${dma32}${random.chance(0.3) ? " ddw off" : ""}` });
  }
  const tables = [...phbs.flatMap((p) => [p.name, `${p.name}[1]`]), "0x80000099"];
  const devices: { name: string; kind: string }[] = [];
  let plugged = 0;
  const steps: Scenario["steps"] = [];
  for (let i = 0; i < length; i++) {
    const table = random.pick(tables);
    const phb = random.pick(phbs).name;
    const choices: (() => string | undefined)[] = [
      () => `expect put_tce ${table} ${random.pick(IOBAS)} ${random.pick(TCES)} == H_HARDWARE`,
      () => `expect get_tce ${table} ${random.pick(IOBAS)} == H_HARDWARE`,
      () => `expect stuff_tce ${table} ${random.pick(IOBAS)} ${random.pick(["0x0", "0x1003"])} ${random.pick(COUNTS)} == H_HARDWARE`,
      () => `expect put_tce_indirect ${table} ${random.pick(IOBAS)} [${Array.from({ length: random.int(3) }, () => random.pick(TCES)).join(", ")}] == H_HARDWARE`,
      () => `expect create_window ${phb} page ${random.pick(PAGES)} size ${random.pick(SIZES)} == RTAS_HW_ERROR`,
      () => `expect remove_window ${table.startsWith("0x") ? "0x80000099" : table} == RTAS_HW_ERROR`,
      () => `expect reset_windows ${phb} == RTAS_HW_ERROR`,
      () => `expect query_window ${phb} == 0`,
      () => {
        const kind = abilities.vfio && kvm && random.chance(0.5) ? "vfio" : abilities.devices ? "emulated" : undefined;
        if (!kind) return undefined;
        const name = `d${plugged++}`;
        devices.push({ name, kind });
        return `plug ${kind} ${name} on ${phb}`;
      },
      () => {
        if (!abilities.unplug || devices.length === 0) return undefined;
        return `unplug ${devices.splice(random.int(devices.length), 1)[0]!.name}`;
      },
      () => {
        const device = devices.length > 0 && abilities.devices ? random.pick(devices) : undefined;
        return device && `expect dma ${device.name} ${random.pick(["read", "write"])} ${random.pick(IOBAS)} == fault`;
      },
      () => (abilities.resetMigrate ? "reset" : undefined),
      () => (abilities.resetMigrate ? "expect migrate == ok" : undefined),
    ];
    let action: string | undefined;
    while (!action) action = random.pick(choices)();
    const probes = [`expect table(${random.pick(tables)}) absent`, `expect windows(${random.pick(phbs).name}) == 0`];
    if (devices.some((d) => d.kind === "vfio")) probes.push(`expect hw(${random.pick(phbs).name}) in_sync`);
    steps.push({ action, probes });
  }
  return { machine, phbs, steps };
}

/** Under KVM the host kernel is judged too, to the machine's end: a WARN either side foresaw is no finding. */
const HOST_AT_EXIT = "expect host ok at exit";

export function render(scenario: Scenario): string {
  const lines = [scenario.machine, ...scenario.phbs.map((p) => p.line), ...scenario.steps.flatMap((s) => [s.action, ...s.probes])];
  if (scenario.machine.startsWith("machine kvm")) lines.push(HOST_AT_EXIT);
  return `${lines.filter((l) => l !== "").join("\n")}\n`;
}

function compileScenario(scenario: Scenario): CompiledSpec | undefined {
  const result = compileSource("explore.tce", render(scenario));
  return result.diagnostics.length > 0 ? undefined : result.program?.specs[0];
}

type Comparison = { kind: "same" } | { kind: "skip" } | { kind: "difference" | "crash"; signature: string };

/** What differs: the statement's kind (not its operands) and the two answers, so one cause is one finding. */
function form(source: string): string {
  return /^(expect )?[a-z_]+/.exec(source)?.[0] ?? source;
}

async function compare(scenario: Scenario, sides: [Side, Side]): Promise<{ result: Comparison; runs?: [RunResult, RunResult] }> {
  const spec = compileScenario(scenario);
  if (!spec) return { result: { kind: "skip" } };
  const a = await sides[0].run(spec);
  const b = await sides[1].run(spec);
  if (a.status === "unsupported" || b.status === "unsupported") return { result: { kind: "skip" } };
  for (const run of [a, b]) {
    // Real software that crashed: a reproducer, by what crashed and where (not by the address it faulted at).
    // A WARN the other side foresaw (its host read warned at exit too) is compared as any answer is.
    const other = run === a ? b : a;
    const foreseen = run.crash?.warning === true && other.expectations.some((e) => e.source === HOST_AT_EXIT && e.actual === "warned");
    if (run.status === "crashed" && run.crash && !foreseen) {
      const where = run.crash.function ? ` in ${run.crash.function.replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+/, "")}` : "";
      const what = run.crash.report.replace(/0x[0-9a-f]+/g, "N").slice(0, 100);
      return { result: { kind: "crash", signature: `${run.backend} ${run.profile}: ${run.crash.software} ${run.crash.warning ? "warned" : "crashed"}${where}: ${what}` }, runs: [a, b] };
    }
    if (run.status === "error") {
      const why = (run.reason ?? "").replace(/0x[0-9a-f]+/g, "N").slice(0, 120);
      return { result: { kind: "crash", signature: `${run.backend} ${run.profile}: ${why}` }, runs: [a, b] };
    }
  }
  const other = new Map(b.expectations.map((e) => [`${e.line}:${e.column}`, e]));
  for (const e of a.expectations) {
    const twin = other.get(`${e.line}:${e.column}`);
    const theirs = twin ? twin.actual : e.action ? e.expected : undefined;
    if (theirs !== undefined && theirs !== e.actual) return { result: { kind: "difference", signature: `${form(e.source)}: ${e.actual} vs ${theirs}` }, runs: [a, b] };
  }
  for (const e of b.expectations) {
    if (e.action && !a.expectations.some((x) => x.line === e.line && x.column === e.column))
      return { result: { kind: "difference", signature: `${form(e.source)}: ${e.expected} vs ${e.actual}` }, runs: [a, b] };
  }
  return { result: { kind: "same" } };
}

/** The plainer values a shrink tries in place of a number: sizes, and everything else. */
const SIMPLER = { size: ["4K", "64K", "1G"], value: ["0", "1", "0x1000", "0x3"] } as const;

/** Removes steps, then probes, then the second PHB, then simplifies values, as long as the same difference remains. */
async function shrink(scenario: Scenario, signature: string, sides: [Side, Side]): Promise<Scenario> {
  const same = async (candidate: Scenario) => {
    const { result } = await compare(candidate, sides);
    return (result.kind === "difference" || result.kind === "crash") && result.signature === signature;
  };
  let current = scenario;
  for (let changed = true; changed; ) {
    changed = false;
    for (let i = current.steps.length - 1; i >= 0; i--) {
      const candidate = { ...current, steps: current.steps.filter((_, k) => k !== i) };
      if (await same(candidate)) {
        current = candidate;
        changed = true;
        continue;
      }
      // The action alone, keeping what is probed after it.
      if (current.steps[i]!.action === "") continue;
      const withoutAction = { ...current, steps: current.steps.map((s, k) => (k === i ? { ...s, action: "" } : s)) };
      if (await same(withoutAction)) {
        current = withoutAction;
        changed = true;
      }
    }
    for (let i = 0; i < current.steps.length; i++) {
      for (let p = current.steps[i]!.probes.length - 1; p >= 0; p--) {
        const steps = current.steps.map((s, k) => (k === i ? { ...s, probes: s.probes.filter((_, q) => q !== p) } : s));
        if (await same({ ...current, steps })) {
          current = { ...current, steps };
          changed = true;
        }
      }
    }
    if (current.phbs.length > 1 && (await same({ ...current, phbs: current.phbs.slice(0, 1) }))) {
      current = { ...current, phbs: current.phbs.slice(0, 1) };
      changed = true;
    }
    // Then simpler values: each number of an action, one at a time, by a plainer one.
    for (let i = 0; i < current.steps.length; i++) {
      const action = current.steps[i]!.action;
      const numbers = [...action.matchAll(/\b(0x[0-9a-f_]+|\d+[KMGTP]?)\b/gi)];
      for (const number of numbers) {
        const order: readonly string[] = SIMPLER[/[KMGTP]$/i.test(number[0]) ? "size" : "value"];
        // Only ever simpler: a value on the list is replaced by one before it, so no two swap forever.
        const rank = order.includes(number[0]) ? order.indexOf(number[0]) : order.length;
        for (const simpler of order.slice(0, rank)) {
          if (current.steps[i]!.action !== action) continue;
          const replaced = action.slice(0, number.index) + simpler + action.slice(number.index! + number[0].length);
          const steps = current.steps.map((s, k) => (k === i ? { ...s, action: replaced } : s));
          if (await same({ ...current, steps })) {
            current = { ...current, steps };
            changed = true;
            break;
          }
        }
      }
    }
  }
  return current;
}

/** The minimal scenario as a spec: every expectation is the reference side's answer. */
function finish(scenario: Scenario, runs: [RunResult, RunResult], signature: string, kind: Finding["kind"], options: ExploreOptions): Omit<Finding, "reproduces"> {
  const [reference, other] = runs;
  const answers = new Map(reference.expectations.map((e) => [e.line, e.actual]));
  const theirs = new Map(other.expectations.map((e) => [e.line, e.actual]));
  const lines = render(scenario).trimEnd().split("\n");
  const body = lines.map((line, i) => {
    const answer = answers.get(i + 1);
    if (!line.startsWith("expect ") || answer === undefined) return line;
    const differs = theirs.has(i + 1) && theirs.get(i + 1) !== answer ? `  # ${options.sides[1].name}: ${theirs.get(i + 1)}` : "";
    if (line.startsWith("expect host ")) return `expect host ${answer}${line.endsWith(" at exit") ? " at exit" : ""}${differs}`;
    const statement = line.replace(/ == .*$/, "").replace(/ (absent|in_sync)$/, "");
    const value = /^expect (table|hw)\(/.test(statement) && !statement.includes(",") ? ` ${answer}` : ` == ${answer}`;
    return `${statement}${value}${differs}`;
  });
  const header = [
    `# Found by tcespec explore (seed ${options.seed}): ${options.command}`,
    `# ${kind === "crash" ? "a crash or error" : "a difference"}: ${signature}`,
    `# Expectations are ${options.sides[0].name}'s answers; where ${options.sides[1].name} answered otherwise, its answer follows the line.`,
  ];
  // A crash of real software: the reproducer says what should have held, `expect host ok`, at its end.
  // (Before the at-exit line, which only more of its kind may follow.)
  const crashed = runs.find((r) => r.status === "crashed");
  const exitAt = body.findIndex((l) => l.startsWith("expect host ") && l.includes(" at exit"));
  if (crashed)
    body.splice(exitAt < 0 ? body.length : exitAt, 0, `expect host ok  # ${crashed.backend}: ${crashed.crash!.software} ${crashed.crash!.warning ? "warned" : "crashed"}${crashed.crash!.source ? ` at ${crashed.crash!.source}` : ""}`);
  const text = [...header, `spec "${kind}: ${signature.replace(/"/g, "'").slice(0, 80)}" {`, ...body.map((l) => `  ${l}`), "}", ""].join("\n");
  return { kind, signature, text, statements: body.length };
}

/** The written spec, compiled and run on both sides: it passes on the first, and not on the second. */
async function reproduces(text: string, sides: [Side, Side]): Promise<true | string> {
  const compiled = compileSource("explore.tce", text);
  if (compiled.diagnostics.length > 0 || !compiled.program) return `it does not compile: ${compiled.diagnostics[0]?.line}:${compiled.diagnostics[0]?.column}: ${compiled.diagnostics[0]?.message}`;
  const spec = compiled.program.specs[0]!;
  const [a, b] = [await sides[0].run(spec), await sides[1].run(spec)];
  if (a.status !== "passed") return `it does not pass on ${sides[0].name} (${a.status}${a.reason ? `: ${a.reason}` : ""})`;
  if (b.status === "passed") return `it passes on ${sides[1].name} too`;
  return true;
}

export async function explore(options: ExploreOptions): Promise<{ tried: number; skipped: number; findings: Finding[] }> {
  const random = new Random(options.seed);
  const findings = new Map<string, Finding>();
  const started = Date.now();
  let tried = 0;
  let skipped = 0;
  const more = () => (options.count !== undefined ? tried < options.count : Date.now() - started < (options.ms ?? 60_000));
  const jobs = Math.max(1, options.jobs ?? 1);
  while (more()) {
    // A batch generated in order and compared side by side, then handled in order: the same
    // seed and count give the same findings whatever the number of jobs.
    const size = options.count !== undefined ? Math.min(jobs, options.count - tried) : jobs;
    const scenarios = Array.from({ length: size }, () => generate(random, options.abilities, options.length));
    const compared = await Promise.all(scenarios.map((s) => compare(s, options.sides)));
    for (const [k, scenario] of scenarios.entries()) {
      tried++;
      const { result, runs } = compared[k]!;
      if (result.kind === "skip") skipped++;
      options.progress?.({ tried, skipped, found: findings.size, shrinking: false });
      if ((result.kind !== "difference" && result.kind !== "crash") || findings.has(result.signature) || !runs) continue;
      options.progress?.({ tried, skipped, found: findings.size, shrinking: true });
      const minimal = await shrink(scenario, result.signature, options.sides);
      const final = await compare(minimal, options.sides);
      const finding = finish(minimal, final.runs ?? runs, result.signature, result.kind, options);
      findings.set(result.signature, { ...finding, reproduces: await reproduces(finding.text, options.sides) });
      options.progress?.({ tried, skipped, found: findings.size, shrinking: false });
    }
  }
  return { tried, skipped, findings: [...findings.values()] };
}
