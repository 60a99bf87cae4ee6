// What every build from source shares (QEMU for `tcespec qemu build`, Linux for `tcespec kvm
// kernel build`): Debian's source package fetched once with a private apt state and unpacked with
// Debian's own patches, or a user's tree; one working copy per source, where the user's patches
// come and go (the last set is undone file by file, and every file either set touched is made newer,
// so make and ninja rebuild only that); a lock per working tree; commands whose output goes to a
// log and whose failure names their last words.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { PPC64EL, PrivateApt, SetupError } from "../backends/kvm/apt.js";
import { spawnLines } from "./lines.js";

export type Progress = (message: string) => void;

export const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** A build's name: letters, digits, '.', '_' and '-'. */
export const validBuildName = (name: string) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name);

export function found(command: string): boolean {
  try {
    execFileSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** The first line a compiler prints about itself: part of every artifact's key. */
export function compilerId(compiler: string): string {
  try {
    return execFileSync(compiler, ["--version"], { encoding: "utf8" }).split("\n")[0]!.trim();
  } catch {
    return `${compiler} (not found)`;
  }
}

export function compareVersions(a: string, b: string): number {
  const x = a.split(/[^0-9]+/).filter(Boolean).map(Number);
  const y = b.split(/[^0-9]+/).filter(Boolean).map(Number);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? -1) !== (y[i] ?? -1)) return (x[i] ?? -1) - (y[i] ?? -1);
  return 0;
}

/** Runs a command; its output goes to `log`, and a failure names the command and its last words. */
export async function runLogged(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; log: string; onLine?: (line: string) => void },
): Promise<void> {
  // Standard output and error, as they came, into one log.
  let text = "";
  let ended;
  try {
    ended = await spawnLines(command, args, { cwd: options.cwd, env: options.env, onLine: (line) => ((text += `${line}\n`), options.onLine?.(line)) });
  } catch (error) {
    throw new SetupError(`cannot start ${command}: ${(error as Error).message}`);
  }
  writeFileSync(options.log, text);
  if (ended.code === 0) return;
  const lines = text.split("\n").filter((l) => l.trim());
  const why = lines.filter((l) => /error|ERROR|FAILED|failed/.test(l)).slice(-3);
  throw new SetupError(`${command} ${args[0] ?? ""} failed (${ended.signal ?? `exit ${ended.code}`}): ${(why.length > 0 ? why : lines.slice(-2)).join(" | ").slice(0, 600)} (whole output: ${options.log})`);
}

// ---------------------------------------------------------------------------------------------
// Sources

/** A source ready to copy into a working tree. */
export interface Source {
  /** What the tree's identity is made of: the Debian version, or the directory and its content. */
  id: string;
  /** Where the working tree lives: one per source place, whatever its content. */
  place: string;
  dir: string;
  label: string;
  debian?: string;
  /** A user's tree: copied in again before every build (it may have changed). */
  user?: boolean;
}

/** The private apt state (with deb-src entries) every build fetches through. */
export function privateApt(root: string): PrivateApt {
  const apt = new PrivateApt(join(root, "apt"), PPC64EL);
  apt.prepare(undefined, true);
  return apt;
}

/** apt-get update, unless the private lists are less than a day old. */
export async function freshLists(apt: PrivateApt, say: Progress): Promise<void> {
  const lists = join(apt.dir, "state", "lists");
  const sources = existsSync(lists) ? readdirSync(lists).filter((f) => f.includes("_source_Sources")) : [];
  const age = sources.length > 0 ? Date.now() - statSync(join(lists, sources[0]!)).mtimeMs : Infinity;
  if (age < 24 * 3600_000) return;
  say("reading Debian's package lists (apt-get update, private state, with source packages)");
  await apt.update(say);
}

export interface DebianSourceRequest {
  /** The source package: qemu, linux. */
  name: string;
  /** Its upstream version family: 7.2, 6.12 (the newest Debian version of it is taken). */
  family: string;
  /** How its directories are named in the cache: `${prefix}${family}-…` under sources/, `${prefix}${family}` under trees/. */
  prefix: string;
  /** What the software calls itself in messages: QEMU, Linux. */
  title: string;
}

/** Debian's source of a version family, unpacked and with Debian's patches: fetched once. */
export async function debianSource(request: DebianSourceRequest, root: string, say: Progress): Promise<Source> {
  const { name, family, prefix, title } = request;
  const sources = join(root, "sources");
  const done = existsSync(sources) ? readdirSync(sources).filter((d) => d.startsWith(`${prefix}${family}-`) && existsSync(join(sources, d, ".tcespec-ready"))) : [];
  let dir: string | undefined = done.sort(compareVersions).pop();
  if (dir) dir = join(sources, dir);
  else {
    const apt = privateApt(root);
    await freshLists(apt, say);
    const wanted = (await apt.sourceVersions(name)).filter((v) => /^(?:\d+:)?(\d+\.\d+)/.exec(v)?.[1] === family).sort(compareVersions).pop();
    if (!wanted) throw new SetupError(`Debian has no ${title} ${family}.x source package (deb-src of bookworm and its backports)`);
    const download = join(root, "downloads", `${name}-${wanted.replace(/:/g, "_")}`);
    say(`downloading Debian's source package ${name} ${wanted}`);
    const files = await apt.source(name, wanted, download);
    const orig = files.find((f) => /\.orig\.tar\.(xz|gz|bz2)$/.test(f));
    const debian = files.find((f) => /\.debian\.tar\.(xz|gz|bz2)$/.test(f));
    if (!orig || !debian) throw new SetupError(`apt-get source ${name}=${wanted} left no orig and debian tarballs in ${download}`);
    dir = join(sources, `${prefix}${family}-${wanted.replace(/[^A-Za-z0-9.+-]/g, "_")}`);
    const work = `${dir}.partial`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    say(`unpacking ${basename(orig)}`);
    execFileSync("tar", ["-xf", orig, "-C", work, "--strip-components=1"]);
    execFileSync("tar", ["-xf", debian, "-C", work]);
    const series = join(work, "debian", "patches", "series");
    const names = existsSync(series)
      ? readFileSync(series, "utf8")
          .split("\n")
          .map((l) => l.replace(/#.*/, "").trim())
          .filter(Boolean)
      : [];
    say(`applying Debian's ${names.length} patches`);
    let skipped = 0;
    for (const patchName of names) {
      const patch = join(work, "debian", "patches", patchName);
      // A dfsg tarball leaves out some sources (QEMU's firmware): Debian's patches to them have nothing to patch.
      const targets = patchTargets(readFileSync(patch, "utf8"));
      if (targets.length > 0 && targets.every((t) => !existsSync(join(work, t)) && !existsSync(join(work, dirname(t))))) {
        skipped++;
        continue;
      }
      try {
        execFileSync("patch", ["-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-s", "-i", patch], { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
      } catch (error) {
        const out = `${(error as { stdout?: Buffer }).stdout ?? ""}`.trim().split("\n")[0];
        throw new SetupError(`Debian's patch ${patchName} does not apply to ${name} ${wanted}: ${out}`);
      }
    }
    if (skipped > 0) say(`${skipped} of Debian's patches touch only what the dfsg tarball leaves out: skipped`);
    writeFileSync(join(work, ".tcespec-debian"), wanted);
    writeFileSync(join(work, ".tcespec-ready"), "");
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  }
  const debian = readFileSync(join(dir, ".tcespec-debian"), "utf8").trim();
  return { id: `debian ${debian}`, place: `${prefix}${family}`, dir, label: `Debian ${name} ${debian}`, debian };
}

/**
 * What identifies a user's tree now: its git revision and uncommitted changes, else its files'
 * sizes and times. `looksLike` says why the directory is not a tree of the software, if it is not.
 */
export function userSource(dir: string, looksLike: (dir: string) => string | undefined): Source {
  const full = resolve(dir);
  const wrong = looksLike(full);
  if (wrong) throw new SetupError(`${dir} ${wrong}`);
  let label = full;
  let content: string;
  try {
    const head = execFileSync("git", ["-C", full, "rev-parse", "--short=12", "HEAD"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const diff = execFileSync("git", ["-C", full, "diff", "HEAD"], { encoding: "utf8", maxBuffer: 256 << 20, stdio: ["ignore", "pipe", "ignore"] });
    content = `${head} ${sha256(diff)}`;
    label = `${full} at ${head}${diff ? " with uncommitted changes" : ""}`;
  } catch {
    const files: string[] = [];
    walk(full, "", files);
    content = sha256(files.join("\n"));
  }
  return { id: `dir ${full} ${content}`, place: `dir-${sha256(full).slice(0, 12)}`, dir: full, label, user: true };
}

const SKIP = new Set([".git", "build", ".tcespec-build"]);

function walk(root: string, prefix: string, out: string[]): void {
  for (const name of readdirSync(join(root, prefix))) {
    if (prefix === "" && SKIP.has(name)) continue;
    const path = prefix ? `${prefix}/${name}` : name;
    const stat = statSync(join(root, path), { throwIfNoEntry: false });
    if (!stat) continue;
    if (stat.isDirectory()) walk(root, path, out);
    else out.push(`${path} ${stat.size} ${stat.mtimeMs}`);
  }
}

/** The files a -p1 patch touches (its +++ and --- lines, first component dropped). */
export function patchTargets(text: string): string[] {
  const files = new Set<string>();
  for (const match of text.matchAll(/^(?:\+\+\+|---) (\S+)/gm)) {
    const path = match[1]!;
    if (path === "/dev/null") continue;
    const rest = path.split("/").slice(1).join("/");
    if (rest) files.add(rest);
  }
  return [...files];
}

export interface Patch {
  path: string;
  name: string;
  text: string;
  sha256: string;
}

/** The user's patch files, read and checked to be patches. */
export function readPatches(paths: readonly string[]): Patch[] {
  return paths.map((path) => {
    let data: Buffer;
    try {
      data = readFileSync(path);
    } catch (error) {
      throw new SetupError(`cannot read patch ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const text = data.toString("utf8");
    if (patchTargets(text).length === 0) throw new SetupError(`${path} is not a patch (no ---/+++ file lines)`);
    return { path: resolve(path), name: basename(path), text, sha256: sha256(data) };
  });
}

// ---------------------------------------------------------------------------------------------
// Working trees

export interface TreeState {
  source: string;
  /** Files the applied patches touched: restored from the source before the next patch set. */
  patched: string[];
  /** What each build directory was configured with. */
  configured: Record<string, string>;
}

function readState(file: string): TreeState | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as TreeState;
  } catch {
    return undefined;
  }
}

export function saveState(tree: string, state: TreeState): void {
  writeFileSync(join(tree, "state.json"), JSON.stringify(state));
}

/** Holds a directory for one build at a time. */
export function lock(dir: string): () => void {
  const path = `${dir}.lock`;
  mkdirSync(dirname(path), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, "pid"), String(process.pid));
      return () => rmSync(path, { recursive: true, force: true });
    } catch {
      const pid = Number(readFileSync(join(path, "pid"), { encoding: "utf8", flag: "a+" }) || 0);
      let alive = false;
      try {
        if (pid > 0) process.kill(pid, 0);
        alive = pid > 0;
      } catch {
        alive = false;
      }
      if (alive) throw new SetupError(`another tcespec (pid ${pid}) is building in ${dir}: wait for it`);
      rmSync(path, { recursive: true, force: true });
    }
  }
  throw new SetupError(`cannot lock ${dir}`);
}

/** The working tree of a source with these patches applied (and no others). */
export function prepareTree(source: Source, patches: readonly Patch[], tree: string, say: Progress): TreeState {
  const src = join(tree, "src");
  let state = readState(join(tree, "state.json"));
  if (!state || state.source !== source.place || !existsSync(src)) {
    rmSync(tree, { recursive: true, force: true });
    mkdirSync(tree, { recursive: true });
    say(`copying the source into a working tree (${tree})`);
    cpSync(source.dir, src, { recursive: true, filter: (from) => !SKIP.has(relative(source.dir, from).split("/")[0]!) });
    state = { source: source.place, patched: [], configured: {} };
  } else if (source.user) {
    // A user's tree may have changed since: newer files come in, their times kept, so make and ninja see them.
    cpSync(source.dir, src, {
      recursive: true,
      preserveTimestamps: true,
      filter: (from) => {
        if (SKIP.has(relative(source.dir, from).split("/")[0]!)) return false;
        const to = join(src, relative(source.dir, from));
        const a = statSync(from, { throwIfNoEntry: false });
        const b = statSync(to, { throwIfNoEntry: false });
        return !a || a.isDirectory() || !b || a.mtimeMs !== b.mtimeMs || a.size !== b.size;
      },
    });
  }
  // Undo the last patch set: each file it touched as the source has it (or gone, if it made the file).
  const touched = new Set(state.patched);
  for (const file of state.patched) {
    const original = join(source.dir, file);
    if (existsSync(original)) copyFileSync(original, join(src, file));
    else rmSync(join(src, file), { force: true });
  }
  state.patched = [];
  saveState(tree, state);
  for (const patch of patches) {
    const targets = patchTargets(patch.text);
    for (const t of targets) touched.add(t);
    state.patched.push(...targets);
    saveState(tree, state);
    try {
      execFileSync("patch", ["-p1", "--batch", "--forward", "--no-backup-if-mismatch", "-i", resolve(patch.path)], { cwd: src, stdio: ["ignore", "pipe", "pipe"] });
    } catch (error) {
      const out = `${(error as { stdout?: Buffer }).stdout ?? ""}`.trim().split("\n").filter((l) => /FAILED|can't find|malformed|Reversed/.test(l));
      throw new SetupError(`${patch.path} does not apply to ${source.label}: ${out.slice(0, 2).join("; ") || "patch failed"}`);
    }
  }
  // Every file a patch set touched, now or before, is newer than what was built from it.
  const now = new Date();
  for (const file of touched) if (existsSync(join(src, file))) utimesSync(join(src, file), now, now);
  return state;
}

/** Moves a finished artifact directory into place (a `.partial` one never counts). */
export function publish(work: string, artifact: string): void {
  rmSync(artifact, { recursive: true, force: true });
  renameSync(work, artifact);
}

// ---------------------------------------------------------------------------------------------
// Builds by name

/** How one kind of build is kept by name: where, how a name and a manifest are checked, what files it needs. */
export interface Shelf<M, B extends { manifest: M & { name: string } }> {
  /** The directory under the cache root holding NAME/manifest.json. */
  dir: string;
  valid: (name: string) => boolean;
  check: { explain(value: unknown): string | undefined };
  built: (root: string, manifest: M, dir: string) => B;
  /** The files a usable build has. */
  files: (build: B) => string[];
  /** Why a name is unknown, given the names there are. */
  unknown: (name: string, known: string[]) => string;
  /** What a build whose file is missing should do. */
  again: (name: string) => string;
}

/** A build by name from a shelf, checked (its manifest and every file it names), or why it cannot be used. */
export function findOnShelf<M, B extends { manifest: M & { name: string } }>(shelf: Shelf<M, B>, name: string, root: string): B | { problem: string } {
  const dir = join(root, shelf.dir, name);
  const path = join(dir, "manifest.json");
  if (!shelf.valid(name) || !existsSync(path)) {
    const known = listShelf(shelf, root)
      .filter((b): b is B => "manifest" in b)
      .map((b) => b.manifest.name);
    return { problem: shelf.unknown(name, known) };
  }
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return { problem: `${path}: ${(error as Error).message}` };
  }
  const why = shelf.check.explain(value);
  if (why) return { problem: `${path}: ${why}` };
  const build = shelf.built(root, value as M, dir);
  for (const file of shelf.files(build)) if (!existsSync(file)) return { problem: `${file} is missing: ${shelf.again(name)}` };
  return build;
}

/** Every build on a shelf, by name, each usable or with why not. */
export function listShelf<M, B extends { manifest: M & { name: string } }>(shelf: Shelf<M, B>, root: string): (B | { dir: string; problem: string })[] {
  const named = join(root, shelf.dir);
  if (!existsSync(named)) return [];
  return readdirSync(named)
    .sort()
    .map((name) => {
      const found = findOnShelf(shelf, name, root);
      return "problem" in found ? { dir: join(named, name), problem: found.problem } : found;
    });
}
