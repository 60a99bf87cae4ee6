// The explorer: it finds where two sides part ways, shrinks each difference, and writes a spec
// that passes on the reference side and diverges on the other.
import { describe, expect, it } from "vitest";
import { answered, comparison, explore, unnumbered, type Side } from "../src/explore/explore.js";
import type { RunResult } from "../src/verdict/outcome.js";
import type { CompiledSpec } from "../src/compile/program.js";
import { ModelBackend } from "../src/backends/model.js";
import type { ProfileName } from "../src/engine/types.js";
import { compile } from "./helpers.js";

const model = new ModelBackend();
const profile = (name: ProfileName): Side => ({ name, run: (spec) => model.runSync(spec, name) });
const everything = { machine: "any", vfio: true, unplug: true, devices: true, resetMigrate: true } as const;

describe("tcespec explore", () => {
  it("finds minimal specs that tell two profiles apart, the same ones for the same seed", async () => {
    const options = { seed: 7, count: 400, sides: [profile("qemu-2.7"), profile("qemu-7.2")] as [Side, Side], abilities: everything, command: "test" };
    const first = await explore(options);
    expect(first.findings.length).toBeGreaterThan(0);
    for (const finding of first.findings) {
      expect(finding.statements).toBeLessThanOrEqual(10);
      const compiled = compile(finding.text);
      expect(compiled.diagnostics).toEqual([]);
      const spec = compiled.program!.specs[0]!;
      expect(model.runSync(spec, "qemu-2.7").status).toBe("passed");
      expect(model.runSync(spec, "qemu-7.2").status).toBe("diverged");
    }
    // Batched or one by one, the same findings.
    const again = await explore({ ...options, batch: 1 });
    expect(again.findings.map((f) => f.text)).toEqual(first.findings.map((f) => f.text));
  });

  it("a crash's signature leaves out addresses and file descriptor numbers, and keeps the rest", () => {
    const crash = (fd: number) => `qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd ${fd}: Bad file descriptor at 0x7f00${fd}`;
    expect(unnumbered(crash(17))).toBe(unnumbered(crash(18)));
    expect(unnumbered(crash(17))).toBe("qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd N: Bad file descriptor at N");
    expect(unnumbered("../../softmmu/memory.c:2610: Assertion")).toBe("../../softmmu/memory.c:2610: Assertion");
  });

  it("a QEMU crash is known by its fatal words, whatever QEMU said on the way there", () => {
    // One abort of QEMU 7.2, reached by resets and by windows (docs/qemu-bugs.md): different lines before it.
    const spec = compile('spec "s" profiles qemu-7.2 { machine kvm caps spapr_tce_vfio\n reset\n expect host ok }').program!.specs[0]!;
    const ok = model.runSync(spec, "qemu-7.2");
    const died = (words: string): RunResult => ({ ...ok, backend: "kvm", status: "crashed", crash: { software: "QEMU", report: `${words} (SIGABRT)`, line: 3 } });
    const assertion = "qemu-system-ppc64: ../../softmmu/memory.c:1739: memory_region_finalize: Assertion `!mr->container' failed.";
    const byResets = comparison(ok, died(`qemu-system-ppc64: vfio/eeh: EEH_PE_OP 0x1 failed: No such device | qemu-system-ppc64: vfio: Cannot reset device 0000:00:00.0 | ${assertion}`));
    const byWindows = comparison(ok, died(`qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd 18: Bad file descriptor | ${assertion}`));
    expect(byResets).toEqual(byWindows);
    expect(byResets).toMatchObject({ kind: "crash", signature: `kvm qemu-7.2: QEMU crashed: ${assertion} (SIGABRT)`.slice(0, "kvm qemu-7.2: QEMU crashed: ".length + 100) });
    // A failed run: by its reason, its numbers folded but not the digits of a name.
    const failed = (step: number): RunResult => ({ ...ok, backend: "kvm", status: "error", reason: `host step ${step} failed: qemu-system-ppc64: vfio 0000:00:01.0: no reset in 80000 ms` });
    expect(comparison(ok, failed(1))).toEqual(comparison(ok, failed(3)));
    expect(comparison(ok, failed(1))).toMatchObject({ signature: "kvm qemu-7.2: host step N failed: qemu-system-ppc64: vfio N:N:N.N: no reset in N ms" });
    // Another assertion is another finding.
    expect(comparison(ok, died("qemu-system-ppc64: ../../softmmu/memory.c:2610: memory_region_add_subregion_common: Assertion `!subregion->container' failed."))).not.toEqual(byResets);
  });

  it("an answer a real target could not see is no difference, as in the report (found on PowerNV: 0x0 vs unseen)", () => {
    const spec = compile('spec "s" profiles qemu-7.2 { machine kvm caps spapr_tce_vfio\n phb phb0 index 0\n plug vfio d2 on phb0\n expect hw(phb0, 0x1000) == 0x0 }').program!.specs[0]!;
    const ok = model.runSync(spec, "qemu-7.2");
    const answering = (actual: string): RunResult => ({ ...ok, backend: "kvm", expectations: ok.expectations.map((e) => (e.source.startsWith("expect hw") ? { ...e, actual } : e)) });
    // Counted apart, by what the real side said: a run says how much went unjudged.
    const blind = { kind: "same", unseen: ["expect hw: unseen: the device's buffer did not come back"] };
    expect(comparison(ok, answering("unseen: the device's buffer did not come back"))).toEqual(blind);
    expect(comparison(answering("unseen: the device's buffer did not come back"), ok)).toEqual(blind);
    expect(comparison(ok, ok)).toEqual({ kind: "same" });
    expect(comparison(ok, answering("0x1003"))).toMatchObject({ kind: "difference", signature: "expect hw: 0x0 vs 0x1003" });
  });

  it("says what it found as it starts to shrink it, before the finding is written", async () => {
    const said: string[] = [];
    const result = await explore({
      seed: 7,
      count: 120,
      sides: [profile("qemu-2.7"), profile("qemu-7.2")],
      abilities: everything,
      command: "test",
      progress: (p) => {
        if (p.what) said.push(p.what);
      },
    });
    expect(result.findings.length).toBeGreaterThan(0);
    expect(said).toEqual(result.findings.map((f) => f.signature));
  });

  it("finds a deliberately broken rule and shrinks it to the statement that shows it", async () => {
    // The other side is the model with one rule broken: H_STUFF_TCE with a count of 0 succeeds.
    const broken: Side = {
      name: "broken",
      run: (spec) => {
        const run = model.runSync(spec, "qemu-7.2");
        return {
          ...run,
          expectations: run.expectations.map((e) =>
            /^expect stuff_tce \S+ \S+ \S+ 0 /.test(e.source) && e.actual === "H_PARAMETER" ? { ...e, actual: "H_SUCCESS" } : e,
          ),
        };
      },
    };
    const { findings } = await explore({ seed: 3, count: 800, sides: [profile("qemu-7.2"), broken], abilities: { ...everything, machine: "tcg" }, command: "test" });
    expect(findings).toHaveLength(1);
    expect(findings[0]!.signature).toBe("expect stuff_tce: H_PARAMETER vs H_SUCCESS");
    const statements = findings[0]!.text.split("\n").filter((l) => /^ {2}(machine|phb|expect|put|plug|reset)/.test(l));
    expect(statements).toEqual(["  machine tcg", "  phb phb0 index 0", expect.stringMatching(/^ {2}expect stuff_tce phb0 \S+ \S+ 0 == H_PARAMETER {2}# broken: H_SUCCESS$/)]);
  });

  it("stops shrinking at the run's deadline and writes the finding as far as it got, saying so", async () => {
    const broken: Side = {
      name: "broken",
      run: (spec) => {
        const run = model.runSync(spec, "qemu-7.2");
        const expectations = run.expectations.map((e) => (/^expect stuff_tce \S+ \S+ \S+ 0 /.test(e.source) && e.actual === "H_PARAMETER" ? { ...e, actual: "H_SUCCESS" } : e));
        // A run whose answer changed diverges from the spec the explorer writes (its expectations are the reference's).
        return { ...run, expectations, status: expectations.some((e, k) => e !== run.expectations[k]) ? ("diverged" as const) : run.status };
      },
    };
    const options = { seed: 3, count: 800, sides: [profile("qemu-7.2"), broken] as [Side, Side], abilities: { ...everything, machine: "tcg" as const }, command: "test" };
    const [shrunk] = (await explore(options)).findings;
    const [late] = (await explore({ ...options, shrinkUntil: Date.now() })).findings;
    expect(late!.signature).toBe(shrunk!.signature);
    expect(shrunk!.shrunkOn).toBe("broken");
    expect(late!.shrunkOn).toBe("broken; stopped at the run's deadline, perhaps not minimal");
    // Cut after the statement that showed it only: longer than the minimal one, and it still shows it.
    expect(late!.statements).toBeGreaterThan(shrunk!.statements);
    expect(late!.reproduces).toBe(true);
  });

  it("writes each expectation with the reference's answer in a form that compiles, an entry of a hardware table that is not there as the table's absence", () => {
    const lines = [
      answered("expect hw(phbx, 0x1000) == 0x0", "absent"),
      answered("expect hw(phb0, 0x1000) == 0x0", "0x1003"),
      answered("expect hw(phb0) in_sync", "out_of_sync"),
      answered("expect table(phb0[1]) absent", "kvm"),
      answered("expect get_tce phb0 0x1000 == 0", "H_PARAMETER"),
      answered("expect hw(phb0, 0x800_0000_0001_0000) == 0x0", "outside the window"),
    ];
    expect(lines).toEqual([
      "expect hw(phbx) absent",
      "expect hw(phb0, 0x1000) == 0x1003",
      "expect hw(phb0) out_of_sync",
      "expect table(phb0[1]) kvm",
      "expect get_tce phb0 0x1000 == H_PARAMETER",
      "# hw(phb0, 0x800_0000_0001_0000): outside the window",
    ]);
    const compiled = compile(`spec "s" {\n  machine kvm\n  phb phb0 index 0\n  phb phbx index 1\n${lines.map((l) => `  ${l}`).join("\n")}\n}`);
    expect(compiled.diagnostics).toEqual([]);
  });

  it("keeps a scenario that crashes real software as a shrunk reproducer ending in 'expect host ok'", async () => {
    // The other side is real software whose kernel dies at any H_STUFF_TCE with a count over 1.
    const crashing: Side = {
      name: "crashing",
      run: (spec) => {
        const run = model.runSync(spec, "qemu-7.2");
        const at = spec.steps.find((s) => /stuff_tce \S+ \S+ \S+ ([2-9]|\d\d)/.test(s.source));
        if (!at) return run;
        return {
          ...run,
          backend: "crashing",
          status: "crashed" as const,
          crash: { software: "host kernel" as const, report: "BUG: Unable to handle kernel data access at 0xc0ffee", function: "kvmppc_tce_put+0x5c/0xa0", line: at.line, column: at.column, source: at.source },
          expectations: run.expectations.filter((e) => e.line < at.line),
        };
      },
    };
    const { findings } = await explore({ seed: 3, count: 300, sides: [profile("qemu-7.2"), crashing], abilities: { ...everything, machine: "tcg" }, command: "test" });
    expect(findings.map((f) => [f.kind, f.signature])).toEqual([["crash", "crashing qemu-7.2: host kernel crashed in kvmppc_tce_put: BUG: Unable to handle kernel data access at N"]]);
    const text = findings[0]!.text;
    expect(text).toMatch(/ {2}expect host ok {2}# crashing: host kernel crashed at (expect )?stuff_tce /);
    expect(compile(text).diagnostics).toEqual([]);
    expect(findings[0]!.statements).toBeLessThanOrEqual(5);
  });
});

describe("every spec the explorer writes runs", () => {
  it("for every pair of profiles and five seeds: it compiles, passes on the first side and not on the second", async () => {
    const { PROFILE_NAMES } = await import("../src/profile-names.js");
    const failures: string[] = [];
    let written = 0;
    for (const [i, a] of PROFILE_NAMES.entries())
      for (const b of PROFILE_NAMES.slice(i + 1))
        for (const seed of [1, 2, 3, 4, 5]) {
          const { findings } = await explore({ seed, count: 120, sides: [profile(a), profile(b)], abilities: everything, command: "test" });
          written += findings.length;
          for (const f of findings) if (f.reproduces !== true) failures.push(`${a} → ${b} seed ${seed}: ${f.reproduces}\n${f.text}`);
        }
    expect(failures).toEqual([]);
    expect(written).toBeGreaterThan(50);
  }, 120_000);
});

describe("docs/profile-differences.md", () => {
  it("is what the explorer finds now (npm run differences)", async () => {
    const { readFileSync } = await import("node:fs");
    const { profileDifferences } = await import("../src/explore/differences.js");
    expect(readFileSync(new URL("../docs/profile-differences.md", import.meta.url), "utf8"), "run npm run differences").toBe(await profileDifferences());
  });
});

describe("the explorer against a real target (a side that runs batches)", () => {
  /** The model as a target that runs whole batches and says what it refuses; it counts what it ran. */
  function target(profileName: ProfileName, refuses?: (source: string) => string | undefined) {
    const batches: string[][] = [];
    const side: Side = {
      name: "target",
      run: (spec) => model.runSync(spec, profileName),
      runMany: async (specs) => {
        batches.push(specs.map((s) => s.steps.map((st) => st.source).join("\n")));
        return specs.map((spec) => model.runSync(spec, profileName));
      },
      ...(refuses
        ? {
            refuses: (spec) => {
              for (const step of spec.steps) {
                const why = refuses(step.source);
                if (why) return `line ${step.line}: ${why}`;
              }
              return undefined;
            },
          }
        : {}),
    };
    return { side, batches };
  }
  const real = { machine: "tcg", vfio: false, unplug: false, devices: true, resetMigrate: true } as const;
  /** A side that runs whole batches on the model, each run then changed as `alter` says (a real target's failures). */
  const batchSide = (name: string, alter: (spec: CompiledSpec, run: RunResult) => RunResult): Side => ({
    name,
    run: (spec) => model.runSync(spec, "qemu-7.2"),
    runMany: async (specs) => specs.map((spec) => alter(spec, model.runSync(spec, "qemu-7.2"))),
  });

  it("counts the answers a real side could not see, by what it said, and finds nothing in them", async () => {
    const blind = batchSide("blind", (_, run) => ({ ...run, expectations: run.expectations.map((e) => (e.source.startsWith("expect windows") ? { ...e, actual: "unseen: 3 windows looked at" } : e)) }));
    const result = await explore({ seed: 2, count: 16, perMachine: 8, batch: 2, sides: [profile("qemu-7.2"), blind], abilities: real, command: "test" });
    expect(result.findings).toEqual([]);
    expect(result.unseen).toEqual([{ reason: "expect windows: unseen: N windows looked at", count: expect.any(Number) }]);
    expect(result.unseen[0]!.count).toBeGreaterThanOrEqual(16);
  });

  it("runs a batch of machines in one call, several scenarios to a machine, a judged reset between them", async () => {
    const { side, batches } = target("qemu-7.2");
    const result = await explore({ seed: 2, count: 64, perMachine: 8, batch: 4, sides: [profile("qemu-7.2"), side], abilities: real, command: "test" });
    expect(result.tried).toBe(64);
    expect(batches.map((b) => b.length)).toEqual([4, 4]);
    for (const machine of batches.flat()) {
      const lines = machine.split("\n");
      // 7 resets between 8 scenarios, each followed by what both sides read back.
      const boundaries = lines.flatMap((l, i) => (l === "reset" && lines[i + 1] === "expect windows(phb0) == 0" ? [i] : []));
      expect(boundaries.length).toBeGreaterThanOrEqual(7);
    }
  });

  it("takes out what the target refuses before running, counts it by reason, and stops generating a choice refused more than it runs", async () => {
    const { side, batches } = target("qemu-7.2", (source) => (source.startsWith("expect create_window") ? "create_window: not on this target" : undefined));
    const result = await explore({ seed: 4, count: 200, perMachine: 4, batch: 10, sides: [profile("qemu-7.2"), side], abilities: real, command: "test" });
    expect(batches.flat().some((m) => m.includes("create_window"))).toBe(false);
    expect(result.skipped).toBe(0);
    expect(result.takenOut).toEqual([{ reason: "line N: create_window: not on this target", count: expect.any(Number) }]);
    expect(result.avoided).toEqual({ create_window: "line N: create_window: not on this target" });
  });

  it("shrinks a long machine on the target by halves first: no round runs a machine per step", async () => {
    // A target whose host WARNs at exit after any stuff of count 0 (no statement to cut after), and
    // no stand-in: the shrink runs on it.
    const batches: number[] = [];
    const steps: number[] = [];
    const broken = batchSide("broken", (spec, run) =>
      spec.steps.some((st) => /^(expect )?stuff_tce \S+ \S+ \S+ 0\b/.test(st.source))
        ? { ...run, status: "crashed", crash: { software: "host kernel", report: "WARNING: at exit", warning: true, phase: "exit" } }
        : run,
    );
    const counting: Side = {
      ...broken,
      runMany: async (specs) => {
        batches.push(specs.length);
        steps.push(...specs.map((s) => s.steps.length));
        return broken.runMany!(specs);
      },
    };
    const { findings } = await explore({ seed: 3, count: 64, perMachine: 8, batch: 8, length: 30, sides: [profile("qemu-7.2"), counting], abilities: { ...real, machine: "any" }, command: "test" });
    expect(findings.length).toBeGreaterThan(0);
    expect(findings[0]!.statements).toBeLessThanOrEqual(4);
    // The machines searched had far more steps than any round of the shrink ran machines.
    expect(Math.max(...steps)).toBeGreaterThan(40);
    expect(Math.max(...batches.slice(1))).toBeLessThanOrEqual(10);
  });

  it("shrinks on a model stand-in that shows the same difference, and runs the target only to find and confirm it", async () => {
    const { side, batches } = target("qemu-2.7");
    const { findings } = await explore({
      seed: 7,
      count: 400,
      perMachine: 8,
      sides: [profile("qemu-7.2"), side],
      standIns: [profile("pre-fix"), profile("qemu-2.7")],
      abilities: everything,
      command: "test",
    });
    expect(findings.length).toBeGreaterThan(0);
    for (const f of findings) {
      expect(f.shrunkOn).toMatch(/^(pre-fix|qemu-2\.7), confirmed on target$/);
      expect(f.reproduces).toBe(true);
    }
    // The batches of the search, and one confirmation per finding (a stand-in that failed to confirm would have shrunk on the target).
    const searchBatches = Math.ceil(400 / 8 / 32);
    expect(batches.length).toBeLessThanOrEqual(searchBatches + findings.length);
  });

  it("--resume goes on with the same sequence: two runs of 40 are one run of 80", async () => {
    const seen = (runs: string[][]) => runs.flat();
    const one = target("qemu-7.2");
    const whole = await explore({ seed: 9, count: 80, perMachine: 4, batch: 5, sides: [profile("qemu-7.2"), one.side], abilities: real, command: "test" });
    const two = target("qemu-7.2");
    const first = await explore({ seed: 9, count: 40, perMachine: 4, batch: 5, sides: [profile("qemu-7.2"), two.side], abilities: real, command: "test" });
    const second = await explore({ seed: 9, count: 40, perMachine: 4, batch: 5, sides: [profile("qemu-7.2"), two.side], abilities: real, command: "test", resume: first.state });
    expect(seen(two.batches)).toEqual(seen(one.batches));
    expect(second.state.tried).toBe(whole.state.tried);
    expect(second.state.random).toBe(whole.state.random);
  });

  it("hands each finding over as soon as it is shrunk, and where to resume after each batch", async () => {
    const handed: string[] = [];
    const states: number[] = [];
    const result = await explore({
      seed: 7,
      count: 400,
      batch: 50,
      sides: [profile("qemu-2.7"), profile("qemu-7.2")],
      abilities: everything,
      command: "test",
      // A finding is handed over before the next batch's state: in the order the batches found them.
      onFinding: (f) => handed.push(`${states.length}:${f.signature}`),
      onBatch: (state) => states.push(state.tried),
    });
    expect(result.findings.length).toBeGreaterThan(1);
    expect(handed.map((h) => h.slice(h.indexOf(":") + 1))).toEqual(result.findings.map((f) => f.signature));
    // Not all handed over at the end: the findings of the first batches came before later batches ended.
    expect(Math.min(...handed.map((h) => Number(h.split(":")[0])))).toBeLessThan(states.length - 1);
    expect(states).toEqual(Array.from({ length: 8 }, (_, i) => 50 * (i + 1)));
    expect(states.at(-1)).toBe(result.state.tried);
  });

  it("counts a known finding instead of shrinking and writing it again", async () => {
    const first = await explore({ seed: 7, count: 400, sides: [profile("qemu-2.7"), profile("qemu-7.2")], abilities: everything, command: "test" });
    const known = new Set(first.findings.map((f) => f.signature));
    const again = await explore({ seed: 7, count: 400, sides: [profile("qemu-2.7"), profile("qemu-7.2")], abilities: everything, command: "test", known });
    expect(again.findings).toEqual([]);
    expect(again.known.map((k) => k.signature).sort()).toEqual([...known].sort());
  });

  it("runs a machine that failed with no statement to blame again alone, and counts it flaky when it then passes", async () => {
    let failed = 0;
    // The first machine of the first batch times out; alone, it runs.
    const flaky = batchSide("flaky", (_, run) =>
      failed++ === 0 ? { ...run, status: "error" as const, reason: "timed out after 80000 ms (--timeout): the guest did not finish", expectations: [] } : run,
    );
    const result = await explore({ seed: 3, count: 16, perMachine: 8, sides: [profile("qemu-7.2"), flaky], abilities: real, command: "test" });
    expect(result.findings).toEqual([]);
    expect(result.unsupported).toEqual([{ reason: "model qemu-N.N: timed out after N ms (--timeout): the guest did not finish: did not happen again alone (a flaky run)", count: 8 }]);
  });

  it("runs the scenarios after the one a crash ended again, on a machine of their own", async () => {
    // QEMU here dies at every reset between two scenarios: each machine of 4 ends in its first.
    const seen: number[] = [];
    const dying = batchSide("dying", (spec, run) => {
      const at = spec.steps.find((s) => s.source === "reset");
      seen.push(spec.steps.filter((s) => s.source === "reset").length);
      if (!at) return run;
      return {
        ...run,
        backend: "dying",
        status: "crashed" as const,
        crash: { software: "QEMU" as const, report: "boom (SIGABRT)", line: at.line, column: at.column, source: at.source },
        expectations: run.expectations.filter((e) => e.line < at.line),
      };
    });
    const signature = "dying qemu-7.2: QEMU crashed: boom (SIGABRT)";
    const result = await explore({ seed: 5, count: 8, perMachine: 4, sides: [profile("qemu-7.2"), dying], abilities: real, known: new Set([signature]), command: "test" });
    // Each machine ran 4 times: from its first scenario, its second, third and fourth, as many
    // resets fewer each time (the second machine's third scenario has a reset of its own).
    expect(seen).toEqual([3, 4, 2, 3, 1, 2, 0, 0]);
    expect(result.tried).toBe(8);
    // Met in the three scenarios of each machine that ended in it; every rest compiled and ran.
    expect(result.known).toEqual([{ signature, count: 6 }]);
    expect(result.unsupported).toEqual([]);
    expect(result.findings).toEqual([]);
  });

  it("never counts a crash as flaky: one that does not happen again alone is still a finding", async () => {
    let crashed = 0;
    const once: Side = {
      name: "once",
      run: (spec) => model.runSync(spec, "qemu-7.2"),
      runMany: async (specs) =>
        specs.map((spec) => {
          const run = model.runSync(spec, "qemu-7.2");
          return crashed++ === 0
            ? { ...run, backend: "once", status: "crashed" as const, crash: { software: "host kernel" as const, report: "BUG: at exit", phase: "exit" as const }, expectations: [] }
            : run;
        }),
    };
    const result = await explore({ seed: 3, count: 16, perMachine: 8, sides: [profile("qemu-7.2"), once], abilities: real, command: "test" });
    expect(result.findings.map((f) => f.signature)).toEqual(["once qemu-7.2: host kernel crashed: BUG: at exit"]);
  });
});
