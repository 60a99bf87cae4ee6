// `tcespec qemu build` on a stand-in QEMU tree: its configure writes a build.ninja whose one
// rule makes `qemu-system-ppc64` from the tree's source file. Everything around the compiler is
// real: the working tree, patches applied and undone, ninja, the cache keys, the manifests.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildQemu,
  describeBuild,
  findBuild,
  listBuilds,
  patchTargets,
  removeBuild,
  type QemuBuild,
} from "../../src/backends/qemu/build.js";
import { main } from "../../src/cli.js";

const NINJA = (() => {
  try {
    execFileSync("ninja", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

let dir: string;
let tree: string;
let root: string;

// configure writes build.ninja: qemu-system-ppc64 is the source file's text, and a line per run
// of the rule goes to a log, so a test sees what was rebuilt.
const CONFIGURE = `#!/bin/sh
src=$(dirname "$0")
cat > build.ninja <<EOF
rule make
  command = cat $src/hw/ppc/spapr_iommu.c > \\$out && echo built >> rebuilds.log
build qemu-system-ppc64: make $src/hw/ppc/spapr_iommu.c
EOF
echo "configured $*" > configured.log
`;

function patch(name: string, from: string, to: string): string {
  const path = join(dir, name);
  writeFileSync(path, `A header that says what the patch is.\n\n--- a/hw/ppc/spapr_iommu.c\n+++ b/hw/ppc/spapr_iommu.c\n@@ -1,2 +1,2 @@\n line one\n-${from}\n+${to}\n`);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tcespec-build-"));
  tree = join(dir, "qemu");
  root = join(dir, "cache");
  mkdirSync(join(tree, "hw", "ppc"), { recursive: true });
  writeFileSync(join(tree, "configure"), CONFIGURE);
  chmodSync(join(tree, "configure"), 0o755);
  writeFileSync(join(tree, "VERSION"), "7.2.22\n");
  writeFileSync(join(tree, "hw", "ppc", "spapr_iommu.c"), "line one\nthe fix\n");
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const build = (name: string, patches: string[]) => buildQemu({ name, source: { dir: tree }, patches, targets: ["tcg"], root, checkTools: false });
const binaryOf = (b: QemuBuild) => readFileSync(b.binaries.tcg!, "utf8");
/** How many times the stand-in's one rule ran, in the one working tree. */
function rebuilds(): number {
  const [place] = readdirSync(join(root, "trees")).filter((d) => !d.endsWith(".lock"));
  return readFileSync(join(root, "trees", place!, "build-tcg", "rebuilds.log"), "utf8").trim().split("\n").length;
}

describe.runIf(NINJA)("building a QEMU tree with patches", () => {
  it("builds the tree as it is, then with a patch, then without again, rebuilding only what changed", async () => {
    const stock = await build("stock", []);
    expect(binaryOf(stock.build)).toBe("line one\nthe fix\n");
    expect(stock.cached).toEqual([]);
    expect(stock.build.manifest).toMatchObject({ name: "stock", base: "7.2.22", patches: [], source: { dir: tree } });

    const mutant = await build("mutant", [patch("revert.patch", "the fix", "the bug")]);
    expect(binaryOf(mutant.build)).toBe("line one\nthe bug\n");
    expect(mutant.build.manifest.patches).toEqual([{ name: "revert.patch", path: join(dir, "revert.patch"), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    // The tree was configured once; the patch rebuilt the one output.
    expect(rebuilds()).toBe(2);

    // The same source and patches again: found in the cache, nothing built.
    const again = await build("mutant-again", [join(dir, "revert.patch")]);
    expect(again.cached).toEqual(["tcg"]);
    expect(again.build.binaries.tcg).toBe(mutant.build.binaries.tcg);
    expect(rebuilds()).toBe(2);

    // Another patch set: the last one is undone first, so the tree is the source plus this patch only.
    const other = await build("other", [patch("other.patch", "the fix", "another bug")]);
    expect(binaryOf(other.build)).toBe("line one\nanother bug\n");
    // And the stock build is still what it was.
    expect(binaryOf(findBuild("stock", root) as QemuBuild)).toBe("line one\nthe fix\n");
  });

  it("refuses a patch that does not apply, naming it, and leaves the tree clean for the next build", async () => {
    await expect(build("broken", [patch("broken.patch", "no such line", "x")])).rejects.toThrow(/broken\.patch does not apply/);
    const next = await build("clean", [patch("clean.patch", "the fix", "clean bug")]);
    expect(binaryOf(next.build)).toBe("line one\nclean bug\n");
  });

  it("rebuilds when the user's tree changes", async () => {
    writeFileSync(join(tree, "hw", "ppc", "spapr_iommu.c"), "line one\nthe fix\nand more\n");
    const changed = await build("stock", []);
    expect(changed.cached).toEqual([]);
    expect(binaryOf(changed.build)).toBe("line one\nthe fix\nand more\n");
  });

  it("lists builds and removes one with the artifacts no other build names", async () => {
    const names = listBuilds(root).map((b) => ("manifest" in b ? b.manifest.name : b.dir));
    expect(names).toEqual(expect.arrayContaining(["stock", "mutant", "mutant-again", "other", "clean"]));
    const shared = (findBuild("mutant", root) as QemuBuild).binaries.tcg!;
    expect(removeBuild("mutant", root)).toBe(true);
    // mutant-again names the same binary: it stays.
    expect(existsSync(shared)).toBe(true);
    expect(removeBuild("mutant-again", root)).toBe(true);
    expect(existsSync(shared)).toBe(false);
    expect(removeBuild("mutant", root)).toBe(false);
    expect(findBuild("mutant", root)).toEqual({ problem: expect.stringMatching(/no QEMU build named 'mutant' \(builds: clean, other, stock/) });
  });

  it("says what a build is made of in one line", () => {
    const other = findBuild("other", root) as QemuBuild;
    expect(describeBuild(other.manifest)).toMatch(/^tcespec build 'other': QEMU 7\.2\.22 from .*qemu.* \+ other\.patch \(sha256 [0-9a-f]{12}\)$/);
  });

  it("finds a damaged manifest or a missing binary, and says so", () => {
    writeFileSync(join(root, "named", "other", "manifest.json"), "{}");
    expect(findBuild("other", root)).toEqual({ problem: expect.stringMatching(/manifest\.json: .*must have required property/) });
    rmSync((findBuild("clean", root) as QemuBuild).binaries.tcg!);
    expect(findBuild("clean", root)).toEqual({ problem: expect.stringMatching(/is missing: build 'clean' again/) });
  });
});

describe("patch files", () => {
  it("names the files a -p1 patch touches, a created file included and /dev/null not", () => {
    const text = "Subject: x\n---\n a | 1 +\n\n--- a/hw/ppc/spapr_iommu.c\n+++ b/hw/ppc/spapr_iommu.c\n@@ -1 +1 @@\n--- /dev/null\n+++ b/hw/ppc/new.c\n";
    expect(patchTargets(text)).toEqual(["hw/ppc/spapr_iommu.c", "hw/ppc/new.c"]);
    expect(patchTargets("no diff here")).toEqual([]);
  });

  it("the repository's mutants and fix are patches on Debian's 7.2 source, each saying what it brings back", () => {
    for (const file of ["mutants/revert-realloc.patch", "mutants/skip-replay.patch", "mutants/replug-not-replayed.patch", "mutants/puts-not-notified.patch"]) {
      const text = readFileSync(file, "utf8");
      expect(text.split("\n")[0]).toMatch(/^Mutant: /);
      expect(text).toMatch(/Bug class: /);
      expect(text).toMatch(/Should be killed by: specs\//);
      expect(patchTargets(text)).toContain("hw/ppc/spapr_iommu.c");
    }
    expect(patchTargets(readFileSync("patches/0001-ppc-spapr-refuse-a-DDW-of-2-32-TCEs-or-more.patch", "utf8"))).toEqual(["hw/ppc/spapr_rtas_ddw.c"]);
  });
});

describe("the build commands", () => {
  const cli = async (...argv: string[]) => {
    let out = "";
    let err = "";
    const code = await main(argv, (t) => (out += t), (t) => (err += t));
    return { code, out, err };
  };

  it("refuses a build without a source, with two, or of an unknown version or target", async () => {
    expect(await cli("qemu", "build", "x")).toMatchObject({ code: 2, err: expect.stringMatching(/--debian VERSION or --source DIR/) });
    expect(await cli("qemu", "build", "x", "--debian", "7.2", "--source", ".")).toMatchObject({ code: 2 });
    expect(await cli("qemu", "build", "x", "--debian", "6.0")).toMatchObject({ code: 2, err: expect.stringMatching(/--debian takes a QEMU version tcespec knows/) });
    expect(await cli("qemu", "build", "x", "--source", ".", "--target", "arm")).toMatchObject({ code: 2, err: expect.stringMatching(/--target takes tcg, kvm or all/) });
  });

  it("says in one line that a build named on run does not exist", async () => {
    const result = await cli("run", "specs/hotplug", "--backend", "kvm", "--qemu-build", "no-such-build-here");
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^tcespec: no QEMU build named 'no-such-build-here'/);
    expect(result.err.trim().split("\n")).toHaveLength(1);
  });

  it("a build needs a real backend to run on", async () => {
    expect(await cli("run", "specs/hotplug", "--qemu-build", "prefix")).toMatchObject({ code: 2, err: expect.stringMatching(/--qemu-build runs a build on real software: add --backend qemu or --backend kvm/) });
  });

  it("takes one build on run, and a profile for it", async () => {
    expect(await cli("run", "specs", "--backend", "kvm", "--qemu-build", "a", "--qemu-build", "b")).toMatchObject({ code: 2, err: expect.stringMatching(/names one build here/) });
    expect(await cli("run", "specs", "--backend", "kvm", "--qemu-build", "a", "--profile", "pre-fix", "--profile", "qemu-7.2")).toMatchObject({
      code: 2,
      err: expect.stringMatching(/--profile names the one profile the build stands for/),
    });
  });

  it("explore takes the build too, and says it is missing in one line", async () => {
    const result = await cli("explore", "--backend", "model,kvm", "--qemu-build", "no-such-build-here", "--budget", "1");
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^tcespec: no QEMU build named 'no-such-build-here'/);
  });

  it("a build without the target's binary is an error for every run, saying how to build it", async () => {
    const cache = mkdtempSync(join(tmpdir(), "tcespec-xdg-"));
    const before = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = cache;
    try {
      const key = "0123456789abcdef";
      mkdirSync(join(cache, "tcespec", "builds", "artifacts", key), { recursive: true });
      writeFileSync(join(cache, "tcespec", "builds", "artifacts", key, "qemu-system-ppc64"), "");
      writeFileSync(join(cache, "tcespec", "builds", "artifacts", key, "overlay.cpio"), "");
      mkdirSync(join(cache, "tcespec", "builds", "named", "l1-only"), { recursive: true });
      writeFileSync(
        join(cache, "tcespec", "builds", "named", "l1-only", "manifest.json"),
        JSON.stringify({ version: 1, name: "l1-only", base: "7.2.22", source: { label: "Debian 1:7.2+dfsg-7+deb12u18" }, patches: [], targets: { kvm: { key, bytes: 0 } }, built: "2026-12-03T00:00:00Z" }),
      );
      const result = await cli("run", "specs/hcalls/indirect.tce", "--backend", "qemu", "--qemu-build", "l1-only", "--reporter", "json");
      expect(result.code).toBe(2);
      const report = JSON.parse(result.out);
      expect(report.runs.length).toBeGreaterThan(0);
      for (const r of report.runs) expect(r).toMatchObject({ status: "error", reason: expect.stringMatching(/QEMU build 'l1-only' has no host binary: 'tcespec qemu build l1-only … --target tcg'/) });
    } finally {
      if (before === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = before;
      rmSync(cache, { recursive: true, force: true });
    }
  });

  it("refuses a source that is not a QEMU tree", async () => {
    const result = await cli("qemu", "build", "x", "--source", "specs", "--target", "tcg");
    expect(result).toMatchObject({ code: 2, err: expect.stringMatching(/specs is not a QEMU source tree/) });
  });
});
