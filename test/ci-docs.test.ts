// docs/ci.md as a user copies it: the YAML parses, the shards are 1/N … N/N, the caches are where
// tcespec keeps its downloads, and each `tcespec run` command in it runs here. The model's
// commands run exactly as written and their shards together are the library, each run once;
// real-backend commands run limited to one spec (QEMU and KVM are tested in depth elsewhere).
import { describe, expect, it } from "vitest";
import { readFileSync, mkdtempSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { XMLParser } from "fast-xml-parser";
import { cacheDir } from "../src/cache.js";
import { findImage } from "../src/backends/kvm/image.js";
import { hasCommand } from "./helpers.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const text = readFileSync(join(root, "docs/ci.md"), "utf8");
const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);

interface Step {
  run?: string;
  uses?: string;
  with?: Record<string, string>;
}
const github = parse(blocks[0]!) as { jobs: Record<string, { strategy?: { matrix: { shard: number[] } }; container?: string; steps: Step[] }> };
const gitlab = parse(blocks[1]!) as Record<string, { parallel?: number; script?: string[]; cache?: { paths: string[] }; artifacts?: { reports?: { junit?: string } } }> & {
  variables: Record<string, string>;
};

const nightly = parse(blocks[2]!) as {
  on: { schedule: { cron: string }[]; workflow_dispatch: unknown };
  jobs: { explore: { strategy: { matrix: { include: { target: string; command: string }[] } }; steps: Step[] } };
};

const ONE_SPEC = "a put is read back";

/** Runs a documented `npx tcespec …` command here, through the repository's bin, in a fresh directory (or `dir`). */
function tcespec(command: string, extra: string[] = [], dir = mkdtempSync(join(tmpdir(), "tcespec-ci-"))): { status: number | null; dir: string; out: string } {
  const args = command.trim().split(/\s+/);
  expect(args.slice(0, 2)).toEqual(["npx", "tcespec"]);
  // The repository's own files, where the job's checkout has them.
  const rest = args.slice(2).map((a) => (a === "specs" || a.startsWith("docs/") ? join(root, a) : a));
  const r = spawnSync("node", [join(root, "bin/tcespec.js"), ...rest, ...extra], { cwd: dir, encoding: "utf8", timeout: 300_000 });
  return { status: r.status, dir, out: r.stdout + r.stderr };
}

const junitCases = (file: string): string[] => {
  const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: "", isArray: (n) => ["testsuite", "testcase"].includes(n) }).parse(
    readFileSync(file, "utf8"),
  );
  return (xml.testsuites.testsuite ?? []).flatMap((s: { file: string; testcase?: { name: string }[] }) => (s.testcase ?? []).map((c) => `${s.file} ${c.name}`));
};

function allLibraryCases(): string[] {
  const r = tcespec("npx tcespec run specs --reporter junit --output all.xml");
  expect(r.status, r.out).toBe(0);
  return junitCases(join(r.dir, "all.xml"));
}

describe("docs/ci.md", () => {
  it("has a GitHub Actions workflow and a GitLab CI file that parse", () => {
    expect(blocks).toHaveLength(3);
    expect(Object.keys(github.jobs)).toEqual(["model", "qemu", "kvm"]);
    expect(Object.keys(gitlab)).toEqual(expect.arrayContaining(["model", "qemu", "kvm"]));
  });

  it("caches what tcespec downloads, where tcespec keeps it", () => {
    const home = cacheDir().replace(process.env.XDG_CACHE_HOME ? process.env.XDG_CACHE_HOME : /^.*\/\.cache/, "~/.cache");
    const cached = (job: string) => github.jobs[job]!.steps.find((s) => s.uses?.startsWith("actions/cache"))!.with!.path;
    expect(cached("qemu")).toBe(`${home}/qemu`);
    expect(cached("kvm")).toBe(`${home}/kvm`);
    expect(gitlab.variables.XDG_CACHE_HOME).toBe("$CI_PROJECT_DIR/.cache");
    expect(gitlab.kvm!.cache!.paths).toEqual([".cache/tcespec/kvm"]);
    expect(gitlab.qemu!.cache!.paths).toEqual([".cache/tcespec/qemu"]);
  });

  it("GitHub: the model's shards run here, and together they are the library, each run once", () => {
    const job = github.jobs.model!;
    const shards = job.strategy!.matrix.shard;
    expect(shards).toEqual(Array.from({ length: shards.length }, (_, i) => i + 1));
    const commands = job.steps.flatMap((s) => (s.run?.includes("tcespec run") ? [s.run] : []));
    expect(commands).toHaveLength(1); // one run per shard writes every report (--reporter NAME:FILE, repeated)
    const cases: string[] = [];
    for (const command of commands) {
      expect(command).toContain(`--shard \${{ matrix.shard }}/${shards.length}`);
      for (const shard of shards) {
        const r = tcespec(command.replaceAll("${{ matrix.shard }}", String(shard)));
        expect(r.status, r.out).toBe(0);
        if (command.includes("--reporter junit")) cases.push(...junitCases(join(r.dir, `junit-${shard}.xml`)));
        if (command.includes("--reporter html")) expect(readFileSync(join(r.dir, `report-${shard}.html`), "utf8")).toMatch(/^<!doctype html>/);
        // One run writes every report: the library is run once per shard.
        if (command.includes("--reporter pretty")) expect(r.out).toMatch(/\d+ specs?, \d+ runs?, \d+ passed/);
      }
    }
    expect(new Set(cases).size).toBe(cases.length);
    expect([...cases].sort()).toEqual(allLibraryCases().sort());
    // Each file a step writes is uploaded.
    const uploaded = job.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"))!.with!.path;
    expect(uploaded).toContain("junit-${{ matrix.shard }}.xml");
    expect(uploaded).toContain("report-${{ matrix.shard }}.html");
  }, 300_000);

  it("GitLab: parallel N is --shard CI_NODE_INDEX/CI_NODE_TOTAL, and the shards are the library", () => {
    const job = gitlab.model!;
    const total = job.parallel!;
    const command = job.script!.find((c) => c.includes("--reporter junit"))!;
    expect(job.artifacts!.reports!.junit).toBe("junit.xml");
    const cases: string[] = [];
    for (let index = 1; index <= total; index++) {
      const r = tcespec(command.replaceAll("${CI_NODE_INDEX}", String(index)).replaceAll("${CI_NODE_TOTAL}", String(total)));
      expect(r.status, r.out).toBe(0);
      cases.push(...junitCases(join(r.dir, "junit.xml")));
    }
    expect([...cases].sort()).toEqual(allLibraryCases().sort());
  }, 300_000);

  it.runIf(hasCommand("qemu-system-ppc64"))("the real-QEMU command runs here (one spec)", () => {
    const command = github.jobs.qemu!.steps.find((s) => s.run?.includes("--profile qemu-7.2"))!.run!;
    const r = tcespec(command, ["--grep", ONE_SPEC]);
    expect(r.status, r.out).toBe(0);
    const junit = readFileSync(join(r.dir, "junit-qemu-7.2.xml"), "utf8");
    expect(junit).toContain("on qemu");
    // The report names the QEMU that judged, and it is a 7.2: the job runs where Debian's 7.2 is.
    expect(junit).toMatch(/<property name="qemu\.qemu" value="QEMU 7\.2\.\d+/);
    expect(github.jobs.qemu!.container).toMatch(/bookworm/);
  }, 300_000);

  it.runIf("manifest" in findImage())("the real-KVM command runs here (one spec)", () => {
    const command = github.jobs.kvm!.steps.find((s) => s.run?.includes("--backend model,kvm"))!.run!;
    const r = tcespec(command, ["--grep", "KVM wants a page-aligned IOBA"]);
    expect(r.status, r.out).toBe(0);
    expect(readFileSync(join(r.dir, "report-kvm.html"), "utf8")).toContain('"backend":"kvm"');
  }, 300_000);
});

describe("the documents' generated facts (npm run docs-facts)", () => {
  it("are what the code says: backends, profiles, kernel rules, the library's counts", async () => {
    const { FACT_DOCUMENTS, SECTIONS, withFacts } = await import("../src/report/docs-facts.js");
    expect(Object.keys(SECTIONS).sort()).toEqual(["backends", "hosts", "kernel-rules", "library", "profiles"]);
    for (const path of FACT_DOCUMENTS) {
      const doc = readFileSync(path, "utf8");
      expect(withFacts(path, doc), `${path}: run npm run docs-facts`).toBe(doc);
    }
  });

  it("change when the code does: a spec more, a profile's meaning, a section gone", async () => {
    const { withFacts } = await import("../src/report/docs-facts.js");
    const readme = readFileSync("README.md", "utf8");
    const stale = readme.replace(/holds (\d+) specs/, (_, n) => `holds ${Number(n) + 1} specs`);
    expect(withFacts("README.md", stale)).toBe(readme);
    const language = readFileSync("docs/language.md", "utf8");
    expect(withFacts("docs/language.md", language.replace("the bug tcespec was written for", "a bug"))).toBe(language);
    expect(() => withFacts("docs/language.md", language.replace("<!-- facts:profiles end -->", ""))).toThrow(/no <!-- facts:profiles/);
  });
});

describe("the README's usage block", () => {
  it("names every option and command the command line's own help names", async () => {
    const { main } = await import("../src/cli.js");
    let help = "";
    await main(["--help"], (t) => (help += t), (t) => (help += t));
    const readme = readFileSync("README.md", "utf8");
    const start = readme.indexOf("tcespec run PATH…");
    const block = readme.slice(start, readme.indexOf("```", start));
    const flags = [...new Set(help.match(/--[a-z][a-z0-9-]*/g))];
    expect(flags.length).toBeGreaterThan(20);
    expect(flags.filter((f) => !block.includes(f))).toEqual([]);
    const commands = [...help.matchAll(/^ {2}([a-z]+(?: [a-z]+)?) /gm)].map((m) => m[1]!.split(" ")[0]!);
    expect([...new Set(commands)].filter((c) => !block.includes(`tcespec ${c}`) && !block.includes(` ${c} `))).toEqual([]);
  });
});

describe("docs/ci.md's nightly explorer", () => {
  const include = nightly.jobs.explore.strategy.matrix.include;

  it("explores every night, each target going on where the last night stopped, filed findings known", () => {
    expect(nightly.on.schedule[0]!.cron).toMatch(/^\d+ \d+ \* \* \*$/);
    expect(include.map((i) => i.target)).toEqual(["kvm", "qemu-7.2", "qemu-10.0"]);
    for (const { target, command } of include) {
      expect(command).toMatch(new RegExp(`--budget \\d+[mh] --out findings-${target} --resume --known docs/known-findings$`));
      expect(command).toContain(target === "kvm" ? "--backend model,kvm" : "--backend model,qemu");
    }
    expect(include.find((i) => i.target === "qemu-10.0")!.command).toContain("--qemu-version 10.0");
    // The findings folder (with its explore-state.json) is carried from night to night, and uploaded when a night fails.
    const carried = nightly.jobs.explore.steps.find((s) => s.with?.path === "findings-${{ matrix.target }}");
    expect(carried?.with?.["restore-keys"]).toBe("tcespec-explore-${{ matrix.target }}-");
    expect(nightly.jobs.explore.steps.find((s) => s.uses?.startsWith("actions/upload-artifact"))!.with!.path).toBe("findings-${{ matrix.target }}/*.tce");
  });

  /** A night of one target, shortened to `budget` scenarios, in `dir`: its summary line and the state it left. */
  function night(target: string, budget: string, dir?: string, extra: string[] = []) {
    const { command } = include.find((i) => i.target === target)!;
    const r = tcespec(command.replace(/--budget \S+/, `--budget ${budget}`), extra, dir);
    // 0: nothing new; 1: something new (written as specs). Never 2.
    expect([0, 1], r.out).toContain(r.status);
    const state = JSON.parse(readFileSync(join(r.dir, `findings-${target}`, "explore-state.json"), "utf8"));
    return { ...r, state };
  }

  it.runIf(hasCommand("qemu-system-ppc64"))("the QEMU 7.2 night runs here, and the next night goes on from it", () => {
    const first = night("qemu-7.2", "24");
    expect(first.out).toMatch(/^24 scenarios \(seed 1; .*--resume goes on from scenario 25$/m);
    expect(first.state.tried).toBe(24);
    // The QEMU abort filed in docs/known-findings is never a new finding.
    expect(first.out).not.toMatch(/findings-qemu-7\.2\/crash-\d+\.tce: .*memory_region_add_subregion/);
    const second = night("qemu-7.2", "24", first.dir);
    expect(second.out).toMatch(/^24 scenarios \(seed 1, from scenario 25; /m);
    expect(second.state.tried).toBe(48);
    expect(second.state.signatures.length).toBeGreaterThanOrEqual(first.state.signatures.length);
  }, 600_000);

  it.runIf("manifest" in findImage())("the KVM night runs here (8 scenarios, 4 to a machine)", () => {
    const r = night("kvm", "8", undefined, ["--per-machine", "4"]);
    expect(r.out).toMatch(/^8 scenarios \(seed 1; /m);
    expect(r.state.tried).toBe(8);
  }, 600_000);
});
