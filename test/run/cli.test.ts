// The command line: exit statuses, filters, sharding, --jobs determinism, check and matrix.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync, spawnSync } from "node:child_process";
import { cli } from "../helpers.js";

let dir: string;
const path = (name: string) => join(dir, name);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tcespec-cli-"));
  mkdirSync(path("ok"));
  writeFileSync(
    path("ok/a.tce"),
    'spec "one" tags t1 { put_tce phb0 0 0x3\n expect get_tce phb0 0 == 0x3 }\nspec "two" tags t2 { expect windows(phb0) == 1 }',
  );
  writeFileSync(path("ok/b.tce"), "expect table(phb0) userspace");
  writeFileSync(path("diverges.tce"), 'spec "bad" { expect table(phb0) kvm }');
  writeFileSync(path("broken.tce"), "put_tce phb0 == 1");
  mkdirSync(path("many"));
  for (let i = 0; i < 40; i++)
    writeFileSync(
      path(`many/f${i}.tce`),
      `spec "s${i}" { put_tce phb0 0x${(i * 4096).toString(16)} 0x3\n expect get_tce phb0 0x${(i * 4096).toString(16)} == 0x3 }`,
    );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("exit status", () => {
  it("0 when every spec passed under every profile", async () => {
    const r = await cli(["run", path("ok")]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/3 specs, 15 runs, 15 passed, 0 diverged, 0 errors \(2 files\)/);
  });
  it("1 when something diverged", async () => {
    expect((await cli(["run", path("ok"), path("diverges.tce")])).code).toBe(1);
  });
  it("2 when a spec file has errors, and the other files still run", async () => {
    const r = await cli(["run", path("broken.tce"), path("ok")]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("broken.tce:1:14: expected an IOBA, found '=='");
    expect(r.out).not.toContain("broken.tce:1:14");
    expect(r.out).toMatch(/15 passed/);
  });
  it("diagnostics on stderr, results on stdout; a missing path is an error counted in the summary", async () => {
    const r = await cli(["run", path("no-such-dir"), path("ok")]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/no-such-dir: no such file or directory\n/);
    expect(r.out).toMatch(/15 passed, 0 diverged, 1 error \(2 files\)/);
  });
  it("a file error is one line, without the usage text", async () => {
    const r = await cli(["run", path("ok"), "--output", path("no/dir/x.txt")]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^tcespec: cannot write .*no\/dir\/x\.txt: ENOENT\n$/);
  });
  it("fmt --check lists what would change and exits 1; fmt rewrites; a broken file is left alone with 2", async () => {
    writeFileSync(path("fmt.tce"), "machine tcg;phb phb0 index 0\nexpect table( phb0 ) userspace\n");
    const check = await cli(["fmt", "--check", path("fmt.tce")]);
    expect(check).toMatchObject({ code: 1, out: `${path("fmt.tce")}\n` });
    expect((await cli(["fmt", path("fmt.tce")])).code).toBe(0);
    expect(readFileSync(path("fmt.tce"), "utf8")).toBe("machine tcg\nphb phb0 index 0\nexpect table(phb0) userspace\n");
    expect((await cli(["fmt", "--check", path("fmt.tce")])).code).toBe(0);
    const before = readFileSync(path("broken.tce"), "utf8");
    const broken = await cli(["fmt", path("broken.tce")]);
    expect(broken.code).toBe(2);
    expect(broken.err).toContain("not formatted (syntax errors)");
    expect(readFileSync(path("broken.tce"), "utf8")).toBe(before);
  });
  it("-v, -h and help", async () => {
    expect((await cli(["-v"])).out).toMatch(/^tcespec \d+\.\d+\.\d+\n$/);
    for (const args of [["-h"], ["help"], ["--help"]]) {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^usage: tcespec/);
    }
  });
  it("the same file named twice, or by two paths, runs once", async () => {
    const r = await cli(["run", path("ok"), path("ok/a.tce"), `${path("ok")}/../ok/a.tce`]);
    expect(r.out).toMatch(/3 specs, 15 runs, 15 passed, 0 diverged, 0 errors \(2 files\)/);
  });
  it("2 when nothing ran, saying what was looked for; --pass-with-no-specs allows it", async () => {
    mkdirSync(path("empty"), { recursive: true });
    const empty = await cli(["run", path("empty")]);
    expect(empty.code).toBe(2);
    expect(empty.err).toMatch(/^tcespec: nothing ran: no spec in .*empty, on model \(--pass-with-no-specs allows it\)$/m);
    const tag = await cli(["run", path("ok"), "--tag", "no-such-tag"]);
    expect(tag).toMatchObject({ code: 2, err: expect.stringContaining("tagged no-such-tag") });
    expect((await cli(["run", path("ok"), "--grep", "zzz"])).code).toBe(2);
    expect((await cli(["run", path("ok"), "--tag", "no-such-tag", "--pass-with-no-specs"])).code).toBe(0);
    const unsupported = await cli(["run", path("ok"), "--backend", "kvm", "--profile", "qemu-7.2"]);
    expect(unsupported.code).toBe(2);
    expect(unsupported.err).toMatch(/nothing ran: all \d+ runs unsupported/);
  });
  it("several reporters in one run, each to its file, one to standard output", async () => {
    const r = await cli(["run", path("ok"), "--reporter", `json:${path("multi.json")}`, "--reporter", `junit:${path("multi.xml")}`, "--reporter", "tap"]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^TAP version 14/);
    expect(JSON.parse(readFileSync(path("multi.json"), "utf8")).summary.passed).toBe(15);
    expect(readFileSync(path("multi.xml"), "utf8")).toMatch(/^<\?xml/);
    // Colour never goes into a file, even where it goes to the terminal.
    process.env.FORCE_COLOR = "1";
    const coloured = await cli(["run", path("diverges.tce"), "--reporter", `pretty:${path("plain.txt")}`, "--reporter", "json"]).finally(() => delete process.env.FORCE_COLOR);
    expect(coloured.code).toBe(1);
    expect(readFileSync(path("plain.txt"), "utf8")).not.toMatch(/\x1b\[/);
    // --output is the file of the one named without one.
    expect((await cli(["run", path("ok"), "--reporter", "json", "--output", path("one.json"), "--reporter", `tap:${path("one.tap")}`])).code).toBe(0);
    expect(JSON.parse(readFileSync(path("one.json"), "utf8")).summary.passed).toBe(15);
    expect(readFileSync(path("one.tap"), "utf8")).toMatch(/^TAP version 14/);
    for (const [args, message] of [
      [["--reporter", "json", "--reporter", "tap"], /--reporter json and tap would both write to standard output: give each but one a file \(NAME:FILE\)/],
      [["--reporter", "xml:out.xml"], /unknown reporter 'xml'/],
      [["--reporter", "json:"], /--reporter json:: name the file after the colon/],
      [["--reporter", "json:a.json", "--output", "b.json"], /--output FILE is for a reporter named without a file/],
    ] as const) {
      const bad = await cli(["run", path("ok"), ...args]);
      expect(bad.code, args.join(" ")).toBe(2);
      expect(bad.err).toMatch(message);
    }
  });

  it("a profile a real backend does not stand for names the flag that would run it", async () => {
    // No QEMU needs to be installed: the backend refuses the profile before anything starts.
    const r = await cli(["run", path("ok"), "--backend", "qemu", "--profile", "qemu-10.0"]);
    expect(r.code).toBe(2);
    expect(r.err).toContain("--backend qemu ran nothing under qemu-10.0 (qemu stands for qemu-7.2): add --qemu-version 10.0 (fetch it first: 'tcespec qemu setup 10.0'");
    const prefix = await cli(["run", path("ok"), "--backend", "kvm", "--profile", "pre-fix"]);
    expect(prefix.err).toMatch(/--backend kvm ran nothing under pre-fix \(kvm stands for qemu-7\.2\): .*--qemu-build NAME --profile pre-fix/);
    // Beside the model, the run goes on; the note says what the real backend did not run.
    const beside = await cli(["run", path("ok"), "--backend", "model,qemu", "--profile", "qemu-10.0"]);
    expect(beside.err).toContain("tcespec: note: --backend qemu ran nothing under qemu-10.0");
    // A profile every backend stands for gets no note.
    expect((await cli(["run", path("ok"), "--profile", "qemu-10.0"])).err).not.toContain("ran nothing");
  });

  it("2 on bad usage", async () => {
    for (const args of [
      ["run"],
      ["frob", "x"],
      ["run", "x", "--reporter", "xml"],
      ["run", "x", "--jobs", "0"],
      ["run", "x", "--shard", "3/2"],
      ["run", "x", "--profile", "qemu-9"],
      ["run", "x", "--nope"],
      [],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.err).toMatch(/^tcespec: /);
    }
  });
  it("2 when the report cannot be written", async () => {
    const r = await cli(["run", path("ok"), "--output", path("no/such/dir/out.txt")]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^tcespec: cannot write .*out\.txt: ENOENT/);
  });
  it("2 for a path that does not exist", async () => {
    expect((await cli(["run", path("nowhere")])).code).toBe(2);
  });
  it("--version and --help", async () => {
    expect((await cli(["--version"])).out).toMatch(/^tcespec \d+\.\d+\.\d+\n$/);
    expect((await cli(["--help"])).out).toMatch(/usage: tcespec/);
  });
});

describe("check", () => {
  it("prints diagnostics and exits 2, or 0 when clean", async () => {
    const bad = await cli(["check", path("broken.tce")]);
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("broken.tce:1:14: expected an IOBA, found '=='\n  put_tce phb0 == 1\n               ^");
    expect((await cli(["check", path("ok")])).code).toBe(0);
  });
});

describe("selection", () => {
  it("--profile, --tag and --grep", async () => {
    const runs = async (...args: string[]) =>
      JSON.parse((await cli(["run", path("ok"), "--reporter", "json", ...args])).out).runs.map(
        (r: { spec: string; profile: string }) => `${r.spec}/${r.profile}`,
      );
    expect(await runs("--profile", "pre-fix", "--profile", "qemu-7.2", "--tag", "t1")).toEqual(["one/pre-fix", "one/qemu-7.2"]);
    expect(await runs("--grep", "TWO", "--profile", "qemu-2.7")).toEqual(["two/qemu-2.7"]);
  });
  it("--bail stops at the first divergence", async () => {
    const r = JSON.parse((await cli(["run", path("diverges.tce"), path("ok"), "--bail", "--reporter", "json", "--jobs", "1"])).out);
    expect(r.runs).toHaveLength(1);
    expect(r.runs[0].status).toBe("diverged");
  });
  it("shards are disjoint and together the whole suite", async () => {
    const specsOf = async (...args: string[]) =>
      JSON.parse((await cli(["run", path("many"), "--reporter", "json", "--profile", "qemu-7.2", ...args])).out).runs.map(
        (r: { spec: string }) => r.spec,
      ) as string[];
    const all = await specsOf();
    const shards = [await specsOf("--shard", "1/3"), await specsOf("--shard", "2/3"), await specsOf("--shard", "3/3")];
    expect(shards.every((s) => s.length > 0)).toBe(true);
    expect(shards.flat().sort()).toEqual([...all].sort());
    expect(new Set(shards.flat()).size).toBe(all.length);
  });
  it("--jobs gives byte-identical reports whatever N", async () => {
    const report = async (jobs: string) => (await cli(["run", path("many"), path("ok"), "--reporter", "json", "--jobs", jobs])).out;
    const one = await report("1");
    expect(JSON.parse(one).runs.length).toBeGreaterThanOrEqual(64);
    expect(await report("2")).toBe(one);
    expect(await report("7")).toBe(one);
  });
});

describe("matrix", () => {
  it("markdown: a row per spec, a column per profile", async () => {
    writeFileSync(
      path("m.tce"),
      'spec "fixed only" profiles qemu-7.2 { reset }\nspec "known bug" { expect table(phb0) kvm xfail "tcg" }\nspec "broken" { expect table(phb0) kvm }',
    );
    const r = await cli(["matrix", path("m.tce")]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("| spec | file | pre-fix | seed-v10 | qemu-2.7 | qemu-7.2 | qemu-10.0 |");
    expect(r.out).toMatch(/^# sPAPR TCE semantics across QEMU versions: .*m\.tce\n/);
    expect(r.out).toContain("Generated by `tcespec matrix ");
    expect(r.out).toMatch(/\| fixed only \| `.*m\.tce` \| — \| — \| — \| passed \|/);
    expect(r.out).toMatch(/\| known bug \| .* \| xfail \| xfail \| xfail \| xfail \|/);
    expect(r.out).toMatch(/\| broken \| .* \| diverged \| diverged \| diverged \| diverged \|/);
  });
  it("html", async () => {
    const r = await cli(["matrix", path("m.tce"), "--format", "html"]);
    expect(r.out).toMatch(/^<!doctype html>/);
    expect(r.out).toContain('<td class="xfail">xfail</td>');
  });
});

describe("the installed binary", () => {
  const bin = new URL("../../bin/tcespec.js", import.meta.url).pathname;
  it("runs compiled JavaScript, with colour off for a pipe and for NO_COLOR", () => {
    const out = execFileSync("node", [bin, "run", path("ok")], { encoding: "utf8" });
    expect(out).toMatch(/15 passed/);
    expect(out).not.toMatch(/\x1b\[/);
    const forced = spawnSync("node", [bin, "run", path("ok")], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "1" } });
    expect(forced.stdout).toMatch(/\x1b\[/);
    const none = spawnSync("node", [bin, "run", path("ok")], {
      encoding: "utf8",
      env: { ...process.env, FORCE_COLOR: "1", NO_COLOR: "1" },
    });
    expect(none.stdout).not.toMatch(/\x1b\[/);
  });
  it("worker threads of the compiled build give the report one thread gives", () => {
    const report = (jobs: string) =>
      execFileSync("node", [bin, "run", path("many"), "--reporter", "json", "--jobs", jobs], { encoding: "utf8" });
    const one = report("1");
    expect(JSON.parse(one).runs).toHaveLength(200);
    expect(report("2")).toBe(one);
  });
  it("exit statuses through the process", () => {
    expect(spawnSync("node", [bin, "run", path("diverges.tce")]).status).toBe(1);
    expect(spawnSync("node", [bin, "run", path("broken.tce")]).status).toBe(2);
    expect(spawnSync("node", [bin, "run", path("ok"), "--output", path("out.json"), "--reporter", "json"]).status).toBe(0);
    expect(JSON.parse(readFileSync(path("out.json"), "utf8")).summary.passed).toBe(15);
  });
});

describe("explore", () => {
  it("writes each finding as soon as it is shrunk: a run killed afterwards has kept it", async () => {
    const { spawn } = await import("node:child_process");
    const { resolve } = await import("node:path");
    const { existsSync } = await import("node:fs");
    const out = path("killed-explore");
    const child = spawn(process.execPath, [resolve("bin/tcespec.js"), "explore", "--profiles", "qemu-2.7,qemu-7.2", "--budget", "100000", "--seed", "7", "--out", out]);
    // Killed at the first finding's line, long before its budget: the file it names must be there.
    const line = await new Promise<string>((done, fail) => {
      let text = "";
      child.stdout.on("data", (chunk: Buffer) => {
        text += chunk.toString();
        const first = /^(\S+\.tce): /m.exec(text);
        if (first) {
          child.kill("SIGKILL");
          done(first[1]!);
        }
      });
      child.on("exit", () => fail(new Error(`explore ended before it wrote a finding:\n${text}`)));
    });
    expect(line).toBe(join(out, "difference-001.tce"));
    expect(existsSync(line)).toBe(true);
    expect(readFileSync(line, "utf8")).toMatch(/^# a difference: /m);
    // The state counts it already: a resumed run numbers its files after it and knows it.
    const state = JSON.parse(readFileSync(join(out, "explore-state.json"), "utf8"));
    expect(state).toMatchObject({ seed: 7, written: 1, signatures: [expect.stringMatching(/.+/)] });
    expect(readFileSync(line, "utf8")).toContain(`# a difference: ${state.signatures[0]}`);
  });
});
