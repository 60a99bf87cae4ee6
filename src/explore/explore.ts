// `tcespec explore`: random scenarios built from the language's statements and their boundary
// values, run on two sides (two profiles of the model, or the model and a real backend); every
// difference is shrunk to a minimal scenario and written as a runnable spec whose expectations
// are the reference side's answers. Against real software, scenarios go in batches (a real target
// boots its machines once for a whole batch), several to a machine (one after another, each
// after a reset both sides judge), and a difference the model itself can show is shrunk on the
// model and confirmed on the real target once.
import { compileSource } from "../compile/index.js";
import type { CompiledSpec } from "../compile/program.js";
import { disagree, isUnseen, type CrashReport, type RunResult } from "../verdict/outcome.js";
import { Random } from "./random.js";
import { runsMachine, type MachineTraits } from "../backends/real/traits.js";

/** One side of the comparison: the reference (first) or the other. */
export interface Side {
  name: string;
  run(spec: CompiledSpec): Promise<RunResult> | RunResult;
  /** Many specs at once: a real target starts its machines once for all of them. */
  runMany?(specs: readonly CompiledSpec[]): Promise<RunResult[]>;
  /** Why it would not run this spec (unsupported), known without running it; the explorer takes out what it names. */
  refuses?(spec: CompiledSpec): Promise<string | undefined> | string | undefined;
}

/** What the sides can run: real backends cannot do everything the language says. */
export interface Abilities {
  machine: "tcg" | "kvm" | "any";
  vfio: boolean;
  unplug: boolean;
  devices: boolean;
  resetMigrate: boolean;
  /**
   * The most TCE entries a window may have where a migration follows it: QEMU migrates a table
   * whole (a 1T window of 4K pages, 2^28 entries, took QEMU 7.2 41 s and 4 GB here), so beyond this
   * a real run meets its timeout. None: no limit (the model migrates what is mapped).
   */
  migrateEntries?: bigint;
  /**
   * How often a migration the generator picks is kept (default 1): a real KVM migration restarts
   * the guest's QEMU in L1, about 5 s each here, where a reset takes a third of a second.
   */
  migrateOdds?: number;
  /** The most guest RAM a machine may have (none: any of the generator's). */
  maxRam?: bigint;
}

export interface Step {
  action: string;
  probes: string[];
  /** Which of the generator's choices made it (what steering avoids); `boundary`: the reset between two scenarios of one machine. */
  kind?: string;
}

/** One machine's work: one generated scenario, or several one after another with a reset between. */
/**
 * A table a real migration carries within a run's timeout: 2^24 entries (128 MiB; QEMU 7.2 took
 * 41 s and 4 GB for a 2^28-entry window of 4K pages here).
 */
export const REAL_MIGRATE_ENTRIES = 1n << 24n;

/** What a real target can run, from its traits (what its planner asks). */
export function abilitiesOf(traits: MachineTraits): Abilities {
  const kvm = runsMachine(traits, "kvm") || runsMachine(traits, "kvm", true);
  return {
    machine: kvm ? "kvm" : "tcg",
    vfio: traits.vfio > 0,
    unplug: traits.hostSteps.unplug,
    devices: traits.devices,
    resetMigrate: traits.hostSteps.reset && traits.hostSteps.migrate,
    migrateEntries: REAL_MIGRATE_ENTRIES,
    // A migration is the dearest step: under KVM about 5 s (15 resets; measured: 8 of each on one
    // guest in L1), under TCG 0.2 to 0.4 s (half a scenario's time, with a 4G default window).
    migrateOdds: kvm ? 0.1 : 0.3,
    ...(traits.maxGuestRam !== undefined ? { maxRam: traits.maxGuestRam } : {}),
  };
}

export interface Scenario {
  machine: string;
  phbs: { name: string; line: string }[];
  steps: Step[];
  /** How many generated scenarios it holds (1 unless several share a machine). */
  scenarios?: number;
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
  /** Where it was shrunk: the sides themselves, or a model stand-in that showed the same difference (then confirmed on the sides). */
  shrunkOn: string;
}

export interface Progress {
  tried: number;
  /** Scenarios one side could not run (unsupported there) or that did not compile. */
  skipped: number;
  found: number;
  shrinking: boolean;
  /** While shrinking: what it shrinks (the finding's signature), so that a run stopped meanwhile still said what it found. */
  what?: string;
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
  /** Steps per scenario (default 8). */
  length?: number;
  /** Scenarios one machine runs one after another, a reset between each (default 1; needs reset). */
  perMachine?: number;
  /** Machines' worth of scenarios generated and compared at once (default 32): the findings do not depend on `jobs`. */
  batch?: number;
  /**
   * Sides of the model that may give the second side's answers (other profiles, other kernel
   * rules): a difference one of them shows too is shrunk on the model, then confirmed once.
   */
  standIns?: Side[];
  /** Where a run stopped (`--resume`): the generator's state and what steering had learned. */
  resume?: ExploreState;
  /** Findings already known (by signature: earlier runs, `--known`): counted, not shrunk or written again. */
  known?: ReadonlySet<string>;
  /**
   * When shrinking stops (a time, as Date.now()): a finding met late in a timed run is written as
   * far as it got by then, not after the budget (on a real target a shrink can take longer than a run).
   */
  shrinkUntil?: number;
  /** Each finding as soon as it is shrunk, so that a run stopped later (a budget overrun, a kill) has written it. */
  onFinding?: (finding: Finding) => void;
  /** Where `--resume` would go on from, after each batch: a run stopped later resumes from its last whole batch. */
  onBatch?: (state: ExploreState) => void;
}

/** What `--resume` needs to go on with a seed's sequence where a run stopped. */
export interface ExploreState {
  seed: number;
  /** Scenarios generated so far. */
  tried: number;
  /** The generator's state after them. */
  random: number;
  /** The generator's choices steered away from, with the reason each was unsupported. */
  avoid: Record<string, string>;
}

export interface ExploreResult {
  tried: number;
  skipped: number;
  findings: Finding[];
  /** Why scenarios could not run on both sides, by reason (numbers folded), most frequent first. */
  unsupported: { reason: string; count: number }[];
  /** Statements taken out of scenarios before they ran, because a side would refuse them, by reason. */
  takenOut: { reason: string; count: number }[];
  /** Choices the generator stopped making, and why. */
  avoided: Record<string, string>;
  /** Where to go on from (`--resume`). */
  state: ExploreState;
  /** Time spent shrinking and confirming findings (the rest is the search). */
  shrinkMs: number;
  /** Known findings met again, by signature, with how many scenarios showed each. */
  known: { signature: string; count: number }[];
  /** Answers a real side could not see (so compared with nothing), by what it said (numbers folded). */
  unseen: { reason: string; count: number }[];
}

const IOBAS = ["0x0", "0x1000", "0x1001", "0x3fff_f000", "0x4000_0000", "0x800_0000_0000_0000", "0x800_0000_0001_0000"];
const TCES = ["0x0", "0x1", "0x1003", "0x12340003", "0x12340007", "0xffffffffffffffff"];
const COUNTS = ["0", "1", "2", "512", "513", "262144", "262145"];
const PAGES = ["4K", "64K", "2M", "16M"];
const SIZES = ["1G", "1T", "1P"];
const CAPS = ["spapr_tce", "spapr_tce_64", "spapr_tce_vfio", "multi_tce"];
const RAMS = ["256M", "512M", "1G"];
const LIST_ADDRESSES = ["0x100000", "0x100008", "0x100800", "0x3fff_f000"];

const SIZE_SHIFT: Record<string, bigint> = { "4K": 12n, "64K": 16n, "2M": 21n, "16M": 24n, "1G": 30n, "1T": 40n, "1P": 50n };

/** The probes after a reset between two scenarios of one machine: both sides say what the machine is now. */
function afterReset(phbs: Scenario["phbs"]): string[] {
  return [...phbs.map((p) => `expect windows(${p.name}) == 0`), `expect table(${phbs[0]!.name}[1]) absent`, `expect get_tce ${phbs[0]!.name} 0x1000 == H_HARDWARE`];
}

/**
 * A random scenario within what the sides can run; with `perMachine` > 1, that many one after
 * another on one machine, a reset between each. `avoid`: choices the sides cannot run (steering).
 */
export function generate(random: Random, abilities: Abilities, length = 8, perMachine = 1, avoid: ReadonlySet<string> = new Set()): Scenario {
  const kvm = abilities.machine === "kvm" || (abilities.machine === "any" && random.chance(0.6));
  const caps = CAPS.filter(() => random.chance(0.6));
  // Guest RAM at its bounds: 0x12340000 (a TCE the lists use) lies past 256M and inside 512M.
  const rams = RAMS.filter((r) => abilities.maxRam === undefined || BigInt(r.slice(0, -1)) << 20n <= abilities.maxRam);
  const ram = random.chance(0.3) ? ` ram ${random.pick(rams)}` : "";
  const machine = kvm ? `machine kvm${caps.length > 0 ? ` caps ${caps.join(", ")}` : ""}${ram}` : `machine tcg${ram}`;
  const phbs = [{ name: "phb0", line: "phb phb0 index 0" }];
  if (random.chance(0.4)) {
    const index = random.pick([1, 2, 30]);
    const dma32 = random.pick(["256M", "1G", "2G", "4G", "8G"]);
    phbs.push({ name: "phbx", line: `phb phbx index ${index} dma32 ${dma32}${random.chance(0.3) ? " ddw off" : ""}` });
  }
  const tables = [...phbs.flatMap((p) => [p.name, `${p.name}[1]`]), "0x80000099"];
  const devices: { name: string; kind: string }[] = [];
  let plugged = 0;
  // The largest window created since the machine's last reset (a migration carries its table whole).
  let largest = 0n;
  const steps: Step[] = [];
  const segments = abilities.resetMigrate ? Math.max(1, perMachine) : 1;
  const may = (kind: string) => !avoid.has(kind);
  for (let segment = 0; segment < segments; segment++) {
    if (segment > 0) {
      steps.push({ action: "reset", probes: afterReset(phbs), kind: "boundary" });
      largest = 0n;
    }
    for (let i = 0; i < length; i++) {
      const table = random.pick(tables);
      const phb = random.pick(phbs).name;
      const choices: [string, () => string | undefined][] = [
        ["put_tce", () => `expect put_tce ${table} ${random.pick(IOBAS)} ${random.pick(TCES)} == H_HARDWARE`],
        ["get_tce", () => `expect get_tce ${table} ${random.pick(IOBAS)} == H_HARDWARE`],
        ["stuff_tce", () => `expect stuff_tce ${table} ${random.pick(IOBAS)} ${random.pick(["0x0", "0x1003"])} ${random.pick(COUNTS)} == H_HARDWARE`],
        [
          "put_tce_indirect",
          () => {
            const list = `[${Array.from({ length: random.int(3) }, () => random.pick(TCES)).join(", ")}]`;
            // Where the list lies: a page-aligned address, or one KVM and QEMU must refuse.
            const at = random.chance(0.2) ? ` at ${random.pick(LIST_ADDRESSES)}` : "";
            return `expect put_tce_indirect ${table} ${random.pick(IOBAS)} ${list}${at} == H_HARDWARE`;
          },
        ],
        [
          "create_window",
          () => {
            const [page, size] = [random.pick(PAGES), random.pick(SIZES)];
            const entries = 1n << (SIZE_SHIFT[size]! - SIZE_SHIFT[page]!);
            if (entries > largest) largest = entries;
            return `expect create_window ${phb} page ${page} size ${size} == RTAS_HW_ERROR`;
          },
        ],
        ["remove_window", () => `expect remove_window ${table.startsWith("0x") ? "0x80000099" : table} == RTAS_HW_ERROR`],
        ["reset_windows", () => `expect reset_windows ${phb} == RTAS_HW_ERROR`],
        ["query_window", () => `expect query_window ${phb} == 0`],
        [
          "plug",
          () => {
            const kind = abilities.vfio && may("plug vfio") && kvm && random.chance(0.5) ? "vfio" : abilities.devices && may("plug emulated") ? "emulated" : undefined;
            if (!kind) return undefined;
            const name = `d${plugged++}`;
            devices.push({ name, kind });
            return `plug ${kind} ${name} on ${phb}`;
          },
        ],
        [
          "unplug",
          () => {
            if (!abilities.unplug || devices.length === 0) return undefined;
            return `unplug ${devices.splice(random.int(devices.length), 1)[0]!.name}`;
          },
        ],
        [
          "dma",
          () => {
            const device = devices.length > 0 && abilities.devices ? random.pick(devices) : undefined;
            return device && `expect dma ${device.name} ${random.pick(["read", "write"])} ${random.pick(IOBAS)} == fault`;
          },
        ],
        [
          "reset",
          () => {
            if (!abilities.resetMigrate) return undefined;
            largest = 0n;
            return "reset";
          },
        ],
        [
          "migrate",
          () =>
            abilities.resetMigrate &&
            (abilities.migrateEntries === undefined || largest <= abilities.migrateEntries) &&
            (abilities.migrateOdds === undefined || random.chance(abilities.migrateOdds))
              ? "expect migrate == ok"
              : undefined,
        ],
      ];
      let action: string | undefined;
      let kind = "";
      while (!action) {
        const [name, make] = random.pick(choices);
        kind = name;
        if (may(name)) action = make();
      }
      if (kind === "plug") kind = action.startsWith("plug vfio") ? "plug vfio" : "plug emulated";
      const probes = [`expect table(${random.pick(tables)}) absent`, `expect windows(${random.pick(phbs).name}) == 0`];
      if (devices.some((d) => d.kind === "vfio")) {
        probes.push(`expect hw(${random.pick(phbs).name}) in_sync`);
        // An entry of the hardware table, and how many notifiers the table has.
        if (random.chance(0.3)) probes.push(`expect hw(${random.pick(phbs).name}, ${random.pick(IOBAS)}) == 0`);
        if (random.chance(0.3)) probes.push(`expect notifiers(${random.pick(phbs).name}) == 0`);
      }
      steps.push({ action, probes, kind });
    }
  }
  return { machine, phbs, steps, scenarios: segments };
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

/** How two sides' runs of one scenario compare; `line`: the statement where they first part (a crash's own). */
export type Comparison =
  /** `unseen`: answers of the real side compared with nothing, why each could not be seen. */
  | { kind: "same"; unseen?: string[] }
  | { kind: "skip"; reason?: string; line?: number }
  | {
      kind: "difference" | "crash";
      signature: string;
      line?: number;
      /** the run failed (a timeout, a refusal), nothing crashed */
      error?: true;
      /** the crash ended the machine at `line` (not a WARN, after which the guest ran on) */
      ended?: true;
    };

/** What differs: the statement's kind (not its operands) and the two answers, so one cause is one finding. */
function form(source: string): string {
  return /^(expect )?[a-z_]+/.exec(source)?.[0] ?? source;
}

/** Many specs on one side: at once where it can (a real target), else one by one. */
async function runAll(side: Side, specs: readonly CompiledSpec[]): Promise<RunResult[]> {
  if (specs.length === 0) return [];
  if (side.runMany) return side.runMany(specs);
  const out: RunResult[] = [];
  for (const spec of specs) out.push(await side.run(spec));
  return out;
}

/**
 * What real software said, without what differs from run to run: addresses, and the numbers of
 * file descriptors (one QEMU crash, "failed to setup fd -1 for a group with fd 17", was shrunk
 * again as a new finding with fd 18).
 */
export const unnumbered = (text: string) => text.replace(/0x[0-9a-f]+/g, "N").replace(/\bfd \d+/g, "fd N");

/**
 * What a crash died of: a kernel's report is its first line; QEMU's is its last words, of which the
 * last one is the fatal one (an assertion, a hardware error) with its signal. The lines before it
 * depend on the path taken there: one QEMU abort came after "failed to setup fd -1" in one scenario
 * and after "EEH_PE_OP 0x1 failed" in another.
 */
const fatal = (crash: CrashReport) => (crash.software === "QEMU" ? crash.report.split(" | ").at(-1)! : crash.report);

/** The two runs of one scenario, compared. */
export function comparison(a: RunResult, b: RunResult): Comparison {
  for (const run of [a, b]) if (run.status === "unsupported") return { kind: "skip", reason: `${run.backend}: ${run.reason ?? "unsupported"}` };
  for (const run of [a, b]) {
    // Real software that crashed: a reproducer, by what crashed and where (not by the address it faulted at).
    // A WARN the other side foresaw (its host read warned at exit too) is compared as any answer is.
    const other = run === a ? b : a;
    const foreseen = run.crash?.warning === true && other.expectations.some((e) => e.source === HOST_AT_EXIT && e.actual === "warned");
    if (run.status === "crashed" && run.crash && !foreseen) {
      const where = run.crash.function ? ` in ${run.crash.function.replace(/\+0x[0-9a-f]+\/0x[0-9a-f]+/, "")}` : "";
      const what = unnumbered(fatal(run.crash)).slice(0, 100);
      return {
        kind: "crash",
        signature: `${run.backend} ${run.profile}: ${run.crash.software} ${run.crash.warning ? "warned" : "crashed"}${where}: ${what}`,
        line: run.crash.line,
        ...(run.crash.warning ? {} : { ended: true as const }),
      };
    }
    if (run.status === "error") {
      // Its numbers folded ("host step N failed"), long enough for QEMU's own words after its prefix.
      const why = folded(run.reason ?? "").slice(0, 200);
      return { kind: "crash", signature: `${run.backend} ${run.profile}: ${why}`, error: true };
    }
  }
  const other = new Map(b.expectations.map((e) => [`${e.line}:${e.column}`, e]));
  const unseenAnswers: string[] = [];
  for (const e of a.expectations) {
    const twin = other.get(`${e.line}:${e.column}`);
    const theirs = twin ? twin.actual : e.action ? e.expected : undefined;
    // What a real backend could not see ("unseen: why") is no answer to differ from (as in the report).
    if (theirs !== undefined && disagree(theirs, e.actual)) return { kind: "difference", signature: `${form(e.source)}: ${e.actual} vs ${theirs}`, line: e.line };
    for (const answer of [e.actual, theirs]) if (answer !== undefined && isUnseen(answer)) unseenAnswers.push(`${form(e.source)}: ${answer}`);
  }
  for (const e of b.expectations) {
    if (e.action && !a.expectations.some((x) => x.line === e.line && x.column === e.column))
      return { kind: "difference", signature: `${form(e.source)}: ${e.expected} vs ${e.actual}`, line: e.line };
  }
  return unseenAnswers.length > 0 ? { kind: "same", unseen: unseenAnswers } : { kind: "same" };
}

type Compared = { result: Comparison; runs?: [RunResult, RunResult] };

/** Scenarios run on both sides, each side all at once; one comparison per scenario, in order. */
async function compareMany(scenarios: readonly Scenario[], sides: [Side, Side]): Promise<Compared[]> {
  const specs = scenarios.map(compileScenario);
  const compiled = specs.flatMap((s) => (s ? [s] : []));
  const started = Date.now();
  const [a, b] = await Promise.all([runAll(sides[0], compiled), runAll(sides[1], compiled)]);
  // TCESPEC_EXPLORE_TRACE=1: each batch, its size and time (where a real target's time goes).
  if (process.env.TCESPEC_EXPLORE_TRACE === "1")
    process.stderr.write(`explore: ${compiled.length} on ${sides[1].name} (${compiled.reduce((n, s) => n + s.steps.length, 0)} steps) in ${Date.now() - started} ms\n`);
  let k = 0;
  return specs.map((spec): Compared => {
    if (!spec) return { result: { kind: "skip", reason: "the scenario does not compile" } };
    const runs: [RunResult, RunResult] = [a[k]!, b[k]!];
    k++;
    return { result: comparison(...runs), runs };
  });
}

const found = (c: Compared, signature: string) => (c.result.kind === "difference" || c.result.kind === "crash") && c.result.signature === signature;

/** The plainer values a shrink tries in place of a number: sizes, and everything else. */
const SIMPLER = { size: ["4K", "64K", "1G"], value: ["0", "1", "0x1000", "0x3"] } as const;

/** The scenario with some steps gone (a reset between scenarios stays only while steps follow it). */
const without = (scenario: Scenario, gone: ReadonlySet<number>): Scenario => ({ ...scenario, steps: scenario.steps.filter((_, k) => !gone.has(k)) });

/**
 * Shrinks a scenario while the same difference remains. Each round makes every edit of one sort
 * (a step gone, an action gone, a probe gone, the second PHB gone, a value made plainer), runs all
 * of them as one batch, and keeps them all at once where that still shows it, else the first that
 * did: a real target starts its machines once per round, not once per try.
 */
async function shrink(scenario: Scenario, signature: string, line: number | undefined, sides: [Side, Side], until?: number): Promise<{ scenario: Scenario; stopped: boolean }> {
  let current = scenario;
  // Past the run's deadline (`--budget`), what is left is kept as it stands: each step below only ever
  // keeps a scenario that still shows it, so the shrink can stop between any two of them.
  const late = () => until !== undefined && Date.now() >= until;
  // Nothing after the statement that showed it can matter to it: cut there (a WARN at exit has no statement).
  const last = line === undefined ? undefined : locate(current, line)?.step;
  if (last !== undefined && last + 1 < current.steps.length) {
    const cut = { ...current, steps: current.steps.slice(0, last + 1) };
    if (found((await compareMany([cut], sides))[0]!, signature)) current = cut;
  }
  // Whole scenarios of a shared machine first: the steps up to and with the reset before each.
  const bounds = current.steps.flatMap((s, k) => (s.kind === "boundary" ? [k] : []));
  if (bounds.length > 0 && !late()) {
    // Scenario j: from after the reset before it through the reset after it (the last one keeps its place).
    const candidates = bounds.map((to, j) => {
      const from = j === 0 ? 0 : bounds[j - 1]! + 1;
      return new Set(Array.from({ length: to - from + 1 }, (_, k) => from + k));
    });
    const results = await compareMany(
      candidates.map((gone) => without(current, gone)),
      sides,
    );
    const gone = new Set(candidates.filter((_, j) => found(results[j]!, signature)).flatMap((g) => [...g]));
    if (gone.size > 0) {
      const all = without(current, gone);
      if (found((await compareMany([all], sides))[0]!, signature)) current = all;
      else current = without(current, candidates[results.findIndex((r) => found(r, signature))]!);
    }
  }
  // Then halves of the steps, quarters, eighths… (ddmin): the scenario without each chunk, one batch
  // per size, the first that still shows it kept. On a real target a round is a few machines where
  // a step at a time is as many machines as steps: a PowerNV crash of 59 statements went to 2 in 8
  // rounds of at most 8 machines, where a step at a time had not got below 59 by the run's deadline.
  for (let n = 2; !late(); ) {
    const size = Math.ceil(current.steps.length / n);
    if (size < 2 || current.steps.length < 4) break;
    const chunks = Array.from({ length: Math.ceil(current.steps.length / size) }, (_, j) => new Set(Array.from({ length: Math.min(size, current.steps.length - j * size) }, (_, k) => j * size + k)));
    const candidates = chunks.map((gone) => without(current, gone));
    const kept = (await compareMany(candidates, sides)).findIndex((r) => found(r, signature));
    if (kept >= 0) {
      current = candidates[kept]!;
      n = Math.max(2, n - 1);
    } else n *= 2;
  }
  /** One sort of edit: each candidate and how to apply several at once (undefined: one at a time only). */
  type Edits = { candidates: Scenario[]; together?: (chosen: number[]) => Scenario };
  const sorts: ((s: Scenario) => Edits)[] = [
    (s) => {
      const order = s.steps.map((_, i) => i).reverse();
      return { candidates: order.map((i) => without(s, new Set([i]))), together: (chosen) => without(s, new Set(chosen.map((c) => order[c]!))) };
    },
    (s) => {
      const order = s.steps.flatMap((step, i) => (step.action === "" ? [] : [i]));
      const blank = (which: number[]) => ({ ...s, steps: s.steps.map((step, k) => (which.includes(k) ? { ...step, action: "" } : step)) });
      return { candidates: order.map((i) => blank([i])), together: (chosen) => blank(chosen.map((c) => order[c]!)) };
    },
    (s) => {
      const order = s.steps.flatMap((step, i) => step.probes.map((_, p) => [i, p] as const));
      const drop = (which: (readonly [number, number])[]) => ({
        ...s,
        steps: s.steps.map((step, k) => ({ ...step, probes: step.probes.filter((_, q) => !which.some(([i, p]) => i === k && p === q)) })),
      });
      return { candidates: order.map((o) => drop([o])), together: (chosen) => drop(chosen.map((c) => order[c]!)) };
    },
    // The second PHB out, and out with what it did moved onto the first.
    (s) => {
      if (s.phbs.length < 2) return { candidates: [] };
      const [first, second] = [s.phbs[0]!.name, s.phbs[1]!.name];
      const onto = (text: string) => text.replace(new RegExp(`\\b${second}\\b`, "g"), first);
      const phbs = s.phbs.slice(0, 1);
      return { candidates: [{ ...s, phbs }, { ...s, phbs, steps: s.steps.map((st) => ({ ...st, action: onto(st.action), probes: st.probes.map(onto) })) }] };
    },
    // The machine's RAM back to the default, and each capability out.
    (s) => {
      const caps = /caps ([a-z_0-9, ]+?)(?= ram|$)/.exec(s.machine)?.[1]?.split(", ") ?? [];
      const machines = [
        ...(/ ram \S+/.test(s.machine) ? [s.machine.replace(/ ram \S+/, "")] : []),
        ...caps.map((c) => {
          const rest = caps.filter((x) => x !== c);
          return s.machine.replace(/ caps [a-z_0-9, ]+?(?= ram|$)/, rest.length > 0 ? ` caps ${rest.join(", ")}` : "");
        }),
      ];
      return { candidates: machines.map((machine) => ({ ...s, machine })) };
    },
    (s) => {
      // Each number of an action by a plainer one: only ever plainer, so no two values swap forever.
      const candidates: Scenario[] = [];
      for (const [i, step] of s.steps.entries())
        for (const number of step.action.matchAll(/\b(0x[0-9a-f_]+|\d+[KMGTP]?)\b/gi)) {
          const order: readonly string[] = SIMPLER[/[KMGTP]$/i.test(number[0]) ? "size" : "value"];
          const rank = order.includes(number[0]) ? order.indexOf(number[0]) : order.length;
          for (const simpler of order.slice(0, rank)) {
            const action = step.action.slice(0, number.index) + simpler + step.action.slice(number.index! + number[0].length);
            candidates.push({ ...s, steps: s.steps.map((x, k) => (k === i ? { ...x, action } : x)) });
          }
        }
      return { candidates };
    },
  ];
  for (let changed = true; changed; ) {
    changed = false;
    for (const sort of sorts) {
      for (;;) {
        if (late()) return { scenario: current, stopped: true };
        const edits = sort(current);
        if (edits.candidates.length === 0) break;
        const results = await compareMany(edits.candidates, sides);
        const chosen = results.flatMap((r, k) => (found(r, signature) ? [k] : []));
        if (chosen.length === 0) break;
        changed = true;
        // All of them together, else the first half of them, the first quarter…: one batch, the most that still shows it.
        const together = edits.together;
        const groups: number[][] = [];
        if (together) for (let n = chosen.length; n > 1; n = Math.floor(n / 2)) groups.push(chosen.slice(0, n));
        const tries = together ? groups.map((g) => together(g)) : [];
        const kept = (await compareMany(tries, sides)).findIndex((r) => found(r, signature));
        current = kept >= 0 ? tries[kept]! : edits.candidates[chosen[0]!]!;
      }
    }
  }
  return { scenario: current, stopped: false };
}

/** An expectation's line with the answer it gets: `expect get_tce … == 0x3`, `expect table(T) kvm`. */
export function answered(line: string, answer: string): string {
  const statement = line.replace(/ == .*$/, "").replace(/ (absent|in_sync)$/, "");
  // An entry of a hardware table that is not there: the language says so of the table (`hw(T) absent`).
  const entryOfNone = /^expect hw\(([^,)]+), [^)]+\)$/.exec(statement);
  if (entryOfNone && answer === "absent") return `expect hw(${entryOfNone[1]}) absent`;
  // An answer no value of the language says ("outside the window"): kept as a comment, not an expectation.
  if (/\s/.test(answer)) return `# ${statement.replace(/^expect /, "")}: ${answer}`;
  const value = /^expect (table|hw)\(/.test(statement) && !statement.includes(",") ? ` ${answer}` : ` == ${answer}`;
  return `${statement}${value}`;
}

/** The minimal scenario as a spec: every expectation is the reference side's answer. */
function finish(scenario: Scenario, runs: [RunResult, RunResult], signature: string, kind: Finding["kind"], options: ExploreOptions): Omit<Finding, "reproduces" | "shrunkOn"> {
  const [reference, other] = runs;
  const answers = new Map(reference.expectations.map((e) => [e.line, e.actual]));
  const theirs = new Map(other.expectations.map((e) => [e.line, e.actual]));
  const lines = render(scenario).trimEnd().split("\n");
  const body = lines.map((line, i) => {
    const answer = answers.get(i + 1);
    if (!line.startsWith("expect ") || answer === undefined) return line;
    const differs = theirs.has(i + 1) && theirs.get(i + 1) !== answer ? `  # ${options.sides[1].name}: ${theirs.get(i + 1)}` : "";
    if (line.startsWith("expect host ")) return `expect host ${answer}${line.endsWith(" at exit") ? " at exit" : ""}${differs}`;
    return `${answered(line, answer)}${differs}`;
  });
  const header = [
    `# Found by tcespec explore (seed ${options.seed}): ${options.command}`,
    `# ${kind === "crash" ? "a crash or error" : "a difference"}: ${signature}`,
    `# Expectations are ${options.sides[0].name}'s answers; where ${options.sides[1].name} answered otherwise, its answer follows the line.`,
  ];
  // A crash of real software: the reproducer says what should have held, `expect host ok`, at its end.
  // (Before the at-exit line, which only more of its kind may follow.)
  // (Only for a crash the finding is about: a WARN the reference foresaw is an answer at its own line.)
  const crashed = kind === "crash" ? runs.find((r) => r.status === "crashed") : undefined;
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

/**
 * The scenario with what a side would refuse taken out: the action or probe on the line its reason
 * names, or, for a reason about the whole spec that starts with a statement's word ("dma: …"),
 * every step of that kind. Each reason is told to `refused`. Undefined: nothing left to take out.
 */
async function fit(scenario: Scenario, sides: readonly Side[], refused: (reason: string, kind: string | undefined) => void): Promise<{ scenario: Scenario } | { reason: string }> {
  let current = scenario;
  let reason: string | undefined;
  for (let round = 0; round < 64; round++) {
    const compiled = compileSource("explore.tce", render(current));
    const spec = compiled.diagnostics.length === 0 ? compiled.program?.specs[0] : undefined;
    if (!spec) {
      // A statement left without what it needs (an unplug whose plug was taken out): it goes too.
      const at = compiled.diagnostics[0] && locate(current, compiled.diagnostics[0].line);
      if (!at || at.probe !== undefined) return { reason: `the scenario does not compile: ${compiled.diagnostics[0]?.message ?? "?"}` };
      current = without(current, new Set([at.step]));
      continue;
    }
    reason = undefined;
    for (const side of sides) reason ??= await side.refuses?.(spec);
    if (reason === undefined) return { scenario: current };
    const line = /line (\d+):/.exec(reason);
    if (line) {
      const at = locate(current, Number(line[1]));
      if (!at) return { reason };
      refused(reason, at.probe === undefined ? current.steps[at.step]!.kind : undefined);
      current = {
        ...current,
        steps: current.steps.map((s, k) =>
          k !== at.step ? s : at.probe === undefined ? { ...s, action: "" } : { ...s, probes: s.probes.filter((_, q) => q !== at.probe) },
        ),
      };
      continue;
    }
    const word = /^([a-z_]+)[:( ]/.exec(reason)?.[1];
    const gone = current.steps.flatMap((s, k) => (s.kind === word ? [k] : []));
    if (gone.length > 0) {
      refused(reason, word);
      current = without(current, new Set(gone));
      continue;
    }
    // Else the probes it names (`notifiers(…): …`); a DMA probe's limit with no DMA left: the
    // hardware table's probes, which read it by DMA too.
    const probe = word === "dma" ? "expect hw(" : `expect ${word}(`;
    if (!current.steps.some((s) => s.probes.some((p) => p.startsWith(probe)))) return { reason };
    refused(reason, undefined);
    current = { ...current, steps: current.steps.map((s) => ({ ...s, probes: s.probes.filter((p) => !p.startsWith(probe)) })) };
  }
  return { reason: reason ?? "unsupported" };
}

/** Which step (and which of its probes, if not its action) a rendered line is. */
function locate(scenario: Scenario, line: number): { step: number; probe?: number } | undefined {
  let at = 1 + scenario.phbs.length;
  for (const [step, s] of scenario.steps.entries()) {
    if (s.action !== "" && ++at === line) return { step };
    for (let probe = 0; probe < s.probes.length; probe++) if (++at === line) return { step, probe };
  }
  return undefined;
}

/**
 * The scenarios of a machine after the one that holds a line, as a machine of their own (undefined
 * where none is left): a fresh machine stands for the reset between them, and as a reset does not
 * unplug, the devices the scenarios before it plug (and do not unplug) are plugged on it first —
 * those of the scenario that crashed too, as the next scenario would have had them.
 */
function after(scenario: Scenario, line: number | undefined): Scenario | undefined {
  if (line === undefined || (scenario.scenarios ?? 1) <= 1) return undefined;
  const at = locate(scenario, line);
  if (!at) return undefined;
  const end = scenario.steps.findIndex((s, k) => k >= at.step && s.kind === "boundary");
  if (end < 0 || end + 1 >= scenario.steps.length) return undefined;
  const done = scenario.steps.slice(0, end + 1).filter((s) => s.kind === "boundary").length;
  const plugged = new Map<string, Step>();
  for (const step of scenario.steps.slice(0, end)) {
    const plug = /^plug \w+ (\S+) on /.exec(step.action);
    const unplug = /^unplug (\S+)$/.exec(step.action);
    if (plug) plugged.set(plug[1]!, { ...step, probes: [] });
    if (unplug) plugged.delete(unplug[1]!);
  }
  return { ...scenario, steps: [...plugged.values(), ...scenario.steps.slice(end + 1)], scenarios: (scenario.scenarios ?? 1) - done };
}

/** A reason with its numbers folded, so one cause counts once: "line N: …" (not a name's digits: qemu-system-ppc64, L1). */
const folded = (reason: string) => reason.replace(/0x[0-9a-f_]+|(?<![a-z0-9])\d+/gi, "N");

const byCount = (counts: Map<string, number>) => [...counts].map(([reason, count]) => ({ reason, count })).sort((x, y) => y.count - x.count || x.reason.localeCompare(y.reason));

/** Choices the steering never drops: a scenario needs something to do. */
const ALWAYS = new Set(["get_tce", "boundary"]);

/** Shrinks on a model stand-in that shows the same difference, confirming the minimum on the sides once; else on the sides. */
async function shrinkFinding(
  scenario: Scenario,
  signature: string,
  line: number | undefined,
  options: ExploreOptions,
): Promise<{ minimal: Scenario; shrunkOn: string; confirmed?: Compared }> {
  const [reference, other] = options.sides;
  for (const standIn of options.standIns ?? []) {
    const [shown] = await compareMany([scenario], [reference, standIn]);
    if (!found(shown!, signature)) continue;
    const { scenario: minimal, stopped } = await shrink(scenario, signature, shown!.result.kind === "difference" ? shown!.result.line : undefined, [reference, standIn], options.shrinkUntil);
    const [confirmed] = await compareMany([minimal], options.sides);
    if (found(confirmed!, signature)) return { minimal, shrunkOn: `${standIn.name}, confirmed on ${other.name}${stopped ? STOPPED : ""}`, confirmed: confirmed! };
  }
  const { scenario: minimal, stopped } = await shrink(scenario, signature, line, options.sides, options.shrinkUntil);
  return { minimal, shrunkOn: `${other.name}${stopped ? STOPPED : ""}` };
}

/** What a finding says when the run's deadline stopped its shrinking. */
const STOPPED = "; stopped at the run's deadline, perhaps not minimal";

export async function explore(options: ExploreOptions): Promise<ExploreResult> {
  const resume = options.resume;
  const random = new Random(options.seed, resume?.random);
  const avoid = new Map<string, string>(Object.entries(resume?.avoid ?? {}));
  const findings = new Map<string, Finding>();
  const reasons = new Map<string, number>();
  const takenOut = new Map<string, number>();
  const unseenAnswers = new Map<string, number>();
  const known = new Map<string, number>();
  let shrinkMs = 0;
  // Steering: how often each choice was refused by a side, and how often it ran.
  const refused = new Map<string, number>();
  const ran = new Map<string, number>();
  const started = Date.now();
  let tried = 0;
  let skipped = 0;
  const perMachine = Math.max(1, options.perMachine ?? 1);
  const batch = Math.max(1, options.batch ?? 32);
  const left = () => (options.count !== undefined ? options.count - tried : Infinity);
  const stateNow = (): ExploreState => ({ seed: options.seed, tried: (resume?.tried ?? 0) + tried, random: random.saved(), avoid: Object.fromEntries(avoid) });
  const more = () => (options.count !== undefined ? tried < options.count : Date.now() - started < (options.ms ?? 60_000));
  while (more()) {
    // A batch generated in order, run on each side at once, then handled in order: the same seed
    // and count give the same findings whatever the number of jobs.
    const machines: Scenario[] = [];
    for (let planned = 0; machines.length < batch && planned < left(); ) {
      const scenario = generate(random, options.abilities, options.length, Math.min(perMachine, left() - planned), new Set(avoid.keys()));
      machines.push(scenario);
      planned += scenario.scenarios ?? 1;
    }
    // What a side would refuse is taken out before anything runs (counted by reason); a choice
    // refused more often than it runs is not made again.
    const fitted: ({ scenario: Scenario } | { reason: string })[] = [];
    for (const scenario of machines)
      fitted.push(
        await fit(scenario, options.sides, (why, kind) => {
          const reason = folded(why);
          takenOut.set(reason, (takenOut.get(reason) ?? 0) + 1);
          if (!kind || ALWAYS.has(kind)) return;
          refused.set(kind, (refused.get(kind) ?? 0) + 1);
          if (refused.get(kind)! >= 8 && refused.get(kind)! > 2 * (ran.get(kind) ?? 0) && !avoid.has(kind)) avoid.set(kind, reason);
        }),
      );
    const runnable = fitted.flatMap((f) => ("scenario" in f ? [f.scenario] : []));
    const results = await compareMany(runnable, options.sides);
    let next = 0;
    const compared = fitted.map((f): Compared => ("scenario" in f ? results[next++]! : { result: { kind: "skip", reason: f.reason } }));
    // A crash ends its machine: the scenarios after the one it ended run again on a machine of
    // their own (never lost), until no crash is left to end one. (Against QEMU 7.2 under TCG a
    // filed abort ended machines holding 39% of 8448 scenarios, whose later ones never ran.)
    let queue = machines.map((original, k) => {
      const f = fitted[k]!;
      return { scenario: "scenario" in f ? f.scenario : original, compared: compared[k]!, again: false };
    });
    while (queue.length > 0) {
      const rests: Scenario[] = [];
      for (const { scenario, compared: one, again } of queue) {
        const count = scenario.scenarios ?? 1;
        if (!again) tried += count;
        const { result, runs } = one;
        if (result.kind === "skip") {
          skipped += count;
          if (result.reason) reasons.set(folded(result.reason), (reasons.get(folded(result.reason)) ?? 0) + count);
        } else if (!again) for (const step of scenario.steps) if (step.kind && step.action !== "") ran.set(step.kind, (ran.get(step.kind) ?? 0) + 1);
        if (result.kind === "same") for (const answer of result.unseen ?? []) unseenAnswers.set(folded(answer), (unseenAnswers.get(folded(answer)) ?? 0) + 1);
        options.progress?.({ tried, skipped, found: findings.size, shrinking: false });
        if ((result.kind !== "difference" && result.kind !== "crash") || !runs) continue;
        const rest = result.kind === "crash" && result.ended ? after(scenario, result.line) : undefined;
        if (rest) rests.push(rest);
        if (findings.has(result.signature)) continue;
        if (options.known?.has(result.signature)) {
          known.set(result.signature, (known.get(result.signature) ?? 0) + count - (rest?.scenarios ?? 0));
          continue;
        }
        // A machine that hung or failed (not a crash: that is a verdict, always kept): again alone, before it is a finding.
        if (result.kind === "crash" && result.error && !found((await compareMany([scenario], options.sides))[0]!, result.signature)) {
          const flaky = `${folded(result.signature)}: did not happen again alone (a flaky run)`;
          reasons.set(flaky, (reasons.get(flaky) ?? 0) + count);
          continue;
        }
        options.progress?.({ tried, skipped, found: findings.size, shrinking: true, what: result.signature });
        const shrinkStart = Date.now();
        const { minimal, shrunkOn, confirmed } = await shrinkFinding(scenario, result.signature, result.line, options);
        const [final] = confirmed ? [confirmed] : await compareMany([minimal], options.sides);
        const finding = finish(minimal, final!.runs ?? runs, result.signature, result.kind, options);
        const kept = { ...finding, shrunkOn, reproduces: await reproduces(finding.text, options.sides) };
        findings.set(result.signature, kept);
        options.onFinding?.(kept);
        shrinkMs += Date.now() - shrinkStart;
        options.progress?.({ tried, skipped, found: findings.size, shrinking: false });
      }
      queue = rests.length === 0 ? [] : (await compareMany(rests, options.sides)).map((c, k) => ({ scenario: rests[k]!, compared: c, again: true }));
    }
    options.onBatch?.(stateNow());
  }
  return {
    tried,
    skipped,
    findings: [...findings.values()],
    unsupported: byCount(reasons),
    takenOut: byCount(takenOut),
    known: [...known].map(([signature, count]) => ({ signature, count })),
    unseen: byCount(unseenAnswers),
    shrinkMs,
    avoided: Object.fromEntries(avoid),
    state: stateNow(),
  };
}
