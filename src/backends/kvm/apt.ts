// Debian packages for L1, fetched by apt with a private sources list, state and cache: the
// system's apt setup is untouched and no root is needed. Packages are unpacked with dpkg -x.
import { execFile } from "node:child_process";
import { every, spawnLines } from "../../build/lines.js";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** L1's architecture: Debian's name for little-endian 64-bit POWER. */
export const PPC64EL = "ppc64el";
const KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg";
/** Debian 12 with its point releases and backports (the 6.12 kernels live there). The security
 * suite is left out: its fixes reach the point releases, and its mirrors were seen mid-sync. */
const SUITES = ["bookworm", "bookworm-updates", "bookworm-backports"];

export class SetupError extends Error {}

/** The Debian archive the system's apt already uses (its first deb.debian.org-like URI), else Debian's own. */
export function debianMirror(): string {
  if (process.env.TCESPEC_DEBIAN_MIRROR) return process.env.TCESPEC_DEBIAN_MIRROR.replace(/\/$/, "");
  const candidates: string[] = [];
  try {
    for (const name of readdirSync("/etc/apt/sources.list.d"))
      if (name.endsWith(".sources")) candidates.push(readFileSync(join("/etc/apt/sources.list.d", name), "utf8"));
  } catch {
    // no such directory: fall through
  }
  try {
    candidates.push(readFileSync("/etc/apt/sources.list", "utf8"));
  } catch {
    // none
  }
  for (const text of candidates) {
    const match = /(https?:\/\/\S+\/debian)\/?(?:\s|$)/.exec(text);
    if (match) return match[1]!;
  }
  return "http://deb.debian.org/debian";
}

export class PrivateApt {
  readonly options: string[];
  constructor(
    readonly dir: string,
    readonly arch: string = PPC64EL,
    /** Prefer this suite's versions where it has the package (apt's -t): bookworm-backports for QEMU 10.0. */
    readonly release?: string,
  ) {
    const etc = join(dir, "etc");
    const state = join(dir, "state");
    this.options = [
      `Dir::Etc::SourceList=${join(etc, "sources.list")}`,
      `Dir::Etc::SourceParts=${join(etc, "sources.list.d")}`,
      `Dir::Etc::Preferences=${join(etc, "preferences")}`,
      `Dir::Etc::PreferencesParts=${join(etc, "preferences.d")}`,
      `Dir::State=${state}`,
      `Dir::State::status=${join(state, "status")}`,
      `Dir::Cache=${join(dir, "cache")}`,
      `APT::Architecture=${arch}`,
      `APT::Architectures=${arch}`,
      "Debug::NoLocking=1",
      `APT::Sandbox::User=${process.env.USER ?? "root"}`,
      ...(release ? [`APT::Default-Release=${release}`] : []),
    ].flatMap((o) => ["-o", o]);
  }

  /** The private tree and its sources list; `sources`: source packages too (deb-src, for QEMU builds). */
  prepare(mirror = debianMirror(), sources = false): void {
    for (const sub of ["etc/sources.list.d", "etc/preferences.d", "state/lists/partial", "cache/archives/partial"])
      mkdirSync(join(this.dir, sub), { recursive: true });
    if (!existsSync(KEYRING)) throw new SetupError(`${KEYRING} is missing: install Debian's debian-archive-keyring package`);
    const lines = SUITES.flatMap((suite) => [
      `deb [arch=${this.arch} signed-by=${KEYRING}] ${mirror} ${suite} main`,
      ...(sources ? [`deb-src [signed-by=${KEYRING}] ${mirror} ${suite} main`] : []),
    ]);
    writeFileSync(join(this.dir, "etc/sources.list"), `${lines.join("\n")}\n`);
    const status = join(this.dir, "state/status");
    if (!existsSync(status)) writeFileSync(status, "");
  }

  private async tool(tool: string, args: string[], cwd?: string, onLine?: (line: string) => void): Promise<string> {
    try {
      if (onLine) return await streamed(tool, [...this.options, ...args], cwd, onLine);
      const { stdout } = await run(tool, [...this.options, ...args], { cwd, maxBuffer: 64 << 20 });
      return stdout;
    } catch (error) {
      const e = error as NodeJS.ErrnoException & { stderr?: string };
      if (e.code === "ENOENT") throw new SetupError(`${tool} not found: the kvm backend fetches Debian packages with apt (a Debian or Ubuntu host)`);
      const why = (e.stderr ?? e.message).split("\n").filter((l) => /^E:|rror/.test(l))[0] ?? e.message.split("\n")[0];
      throw new SetupError(`${tool} ${args.find((a) => !a.startsWith("-")) ?? ""} failed: ${why}`);
    }
  }

  /**
   * apt-get update. A mirror caught mid-sync fails one suite's list now and then; with Debian 12's
   * own list in place the packages can still be had, so that is a warning, not a failure.
   */
  async update(warn: (message: string) => void = () => {}): Promise<void> {
    // What it has read so far, every 2 s (a cold update takes minutes on a slow mirror).
    let lists = 0;
    let bytes = 0;
    const tell = every(2000, warn);
    const onLine = (line: string) => {
      if (!/^(Get|Hit|Ign):\d+ /.test(line)) return;
      lists++;
      bytes += sizeOf(line);
      tell(() => `apt-get update: ${lists} lists read, ${(bytes / 1048576).toFixed(1)} MiB fetched`);
    };
    try {
      await this.tool("apt-get", ["-q", "update"], undefined, onLine);
      warn(`apt-get update: ${lists} lists read, ${(bytes / 1048576).toFixed(1)} MiB fetched, done`);
    } catch (error) {
      const lists = join(this.dir, "state", "lists");
      const main = existsSync(lists) && readdirSync(lists).some((f) => /_dists_bookworm_main_binary-[a-z0-9]+_Packages/.test(f));
      if (!main) throw error;
      warn(`${(error as Error).message} (going on with the lists that came)`);
    }
  }

  /** Package names matching a regular expression (apt-cache search --names-only). */
  async search(pattern: string): Promise<string[]> {
    const out = await this.tool("apt-cache", ["search", "--names-only", pattern]);
    return out
      .split("\n")
      .map((l) => l.split(" - ")[0]!.trim())
      .filter(Boolean);
  }

  /** Every version apt knows of a package, newest first. */
  async versions(name: string): Promise<string[]> {
    const out = await this.tool("apt-cache", ["madison", name]);
    return out
      .split("\n")
      .map((l) => l.split("|")[1]?.trim())
      .filter((v): v is string => Boolean(v));
  }

  /** The version apt would install. */
  async candidate(name: string): Promise<string | undefined> {
    const out = await this.tool("apt-cache", ["policy", name]);
    const version = /Candidate:\s*(\S+)/.exec(out)?.[1];
    return version && version !== "(none)" ? version : undefined;
  }

  /** A package with everything it depends on (no recommends), names only. */
  async closure(name: string): Promise<string[]> {
    const out = await this.tool("apt-cache", [
      "depends",
      "--recurse",
      "--no-recommends",
      "--no-suggests",
      "--no-conflicts",
      "--no-breaks",
      "--no-replaces",
      "--no-enhances",
      name,
    ]);
    // Lines naming a package start in column 0; virtual packages come in <angle brackets>.
    return [...new Set(out.split("\n").filter((l) => /^[a-z0-9]/.test(l)).map((l) => l.trim().replace(/:[a-z0-9]+$/, "")))].sort();
  }

  /** Every version of a source package apt knows (apt-cache showsrc), newest first. */
  async sourceVersions(name: string): Promise<string[]> {
    const out = await this.tool("apt-cache", ["showsrc", name]);
    const versions = [...out.matchAll(/^Version: (\S+)$/gm)].map((m) => m[1]!);
    return [...new Set(versions)];
  }

  /** Downloads a source package (its .dsc and tarballs) into dir, unpacking nothing. Returns the files. */
  async source(name: string, version: string, dir: string): Promise<string[]> {
    mkdirSync(dir, { recursive: true });
    await this.tool("apt-get", ["-q", "source", "--download-only", `${name}=${version}`], dir);
    return readdirSync(dir).map((f) => join(dir, f));
  }

  /** Downloads name=version pairs into dir; what is already there is kept. Returns the files. */
  async download(packages: { name: string; version: string }[], dir: string, progress: (message: string) => void = () => {}): Promise<string[]> {
    mkdirSync(dir, { recursive: true });
    const fileOf = (p: { name: string; version: string }) =>
      readdirSync(dir).find((f) => f.startsWith(`${p.name}_${p.version.replace(/:/g, "%3a")}_`));
    const missing = packages.filter((p) => !fileOf(p));
    let got = 0;
    const tell = every(2000, progress);
    const onLine = (line: string) => {
      if (!/^Get:\d+ /.test(line)) return;
      got++;
      tell(() => `apt-get download: ${got} of ${missing.length} packages`);
    };
    if (missing.length > 0) await this.tool("apt-get", ["-q", "download", ...missing.map((p) => `${p.name}=${p.version}`)], dir, onLine);
    return packages.map((p) => {
      const file = fileOf(p);
      if (!file) throw new SetupError(`apt-get download left no file for ${p.name} ${p.version}`);
      return join(dir, file);
    });
  }
}

/** The size apt says it fetched on a Get line ("[8,788 kB]"), in bytes; 0 for none. */
function sizeOf(line: string): number {
  const found = /\[([\d,.]+) (B|kB|MB)\]\s*$/.exec(line);
  if (!found) return 0;
  return Number(found[1]!.replace(/,/g, "")) * ({ B: 1, kB: 1000, MB: 1_000_000 } as const)[found[2] as "B" | "kB" | "MB"];
}

/** Runs a tool, handing each line of its output on as it comes; fails as execFile does (code, stderr). */
async function streamed(tool: string, args: string[], cwd: string | undefined, onLine: (line: string) => void): Promise<string> {
  const ended = await spawnLines(tool, args, { cwd, onLine });
  if (ended.code === 0) return ended.stdout;
  throw Object.assign(new Error(`${tool} exited with ${ended.signal ?? ended.code}`), { stderr: ended.stderr, code: ended.code });
}

/** Unpacks a .deb into a directory (dpkg -x, no root needed). */
export async function unpack(deb: string, into: string): Promise<void> {
  mkdirSync(into, { recursive: true });
  try {
    await run("dpkg", ["-x", deb, into]);
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === "ENOENT") throw new SetupError("dpkg not found: the kvm backend unpacks Debian packages with dpkg -x");
    throw new SetupError(`dpkg -x ${deb} failed: ${e.message.split("\n")[0]}`);
  }
}
