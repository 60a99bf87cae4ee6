// The real QEMUs the qemu backend runs: Debian 12's own 7.2 from PATH, and 10.0 from Debian's
// bookworm-backports, fetched for the host's architecture into the user's cache (private apt
// state, dpkg -x, no root) by `tcespec qemu setup 10.0`.
import { cacheDir } from "../../cache.js";
import { execFileSync } from "node:child_process";
import { accessSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { ProfileName } from "../../engine/types.js";
import { validator } from "../../schema/validate.js";
import { PACKAGE_LIST } from "../../schema/kvm-image.js";
import { PrivateApt, SetupError, unpack } from "../kvm/apt.js";

/** Each QEMU version tcespec runs, and the profile it stands for. */
export const QEMU_VERSIONS = { "7.2": "qemu-7.2", "10.0": "qemu-10.0" } as const satisfies Record<string, ProfileName>;
export type QemuVersion = keyof typeof QEMU_VERSIONS;

export function isQemuVersion(text: string): text is QemuVersion {
  return text in QEMU_VERSIONS;
}

const PACKAGES = ["qemu-system-ppc", "qemu-system-data", "qemu-system-common"];

interface QemuManifest {
  version: string;
  packages: { name: string; version: string }[];
}
const checkManifest = validator<QemuManifest>({
  type: "object",
  additionalProperties: false,
  required: ["version", "packages"],
  properties: {
    version: { type: "string" },
    packages: PACKAGE_LIST,
  },
});

export function qemuCache(): string {
  return cacheDir("qemu");
}

export interface FetchedQemu {
  dir: string;
  binary: string;
  /** QEMU's own firmware (vof.bin): passed with -L so a second QEMU never reads the system's. */
  dataDir: string;
  manifest: QemuManifest;
}

/** The fetched QEMU of this version, or why there is none. */
export function fetchedQemu(version: QemuVersion, root = qemuCache()): FetchedQemu | { problem: string } {
  const dir = join(root, version);
  const missing = { problem: `QEMU ${version} is not fetched: run 'tcespec qemu setup ${version}'` };
  if (!existsSync(join(dir, "manifest.json"))) return missing;
  let manifest: unknown;
  try {
    manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
  } catch {
    return missing;
  }
  if (!checkManifest(manifest)) return { problem: `${dir}/manifest.json: ${checkManifest.explain(manifest)}` };
  const binary = join(dir, "usr/bin/qemu-system-ppc64");
  if (!existsSync(binary)) return missing;
  return { dir, binary, dataDir: join(dir, "usr/share/qemu"), manifest };
}

function hostArch(): string {
  try {
    return execFileSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).trim();
  } catch {
    throw new SetupError("dpkg not found: tcespec fetches QEMU with Debian's apt and dpkg");
  }
}

/** Fetches the newest Debian build of this QEMU version for the host. */
export async function setupQemu(version: QemuVersion, say: (message: string) => void = () => {}, root = qemuCache()): Promise<FetchedQemu> {
  const apt = new PrivateApt(join(root, "apt"), hostArch());
  apt.prepare();
  say("reading Debian's package lists (apt-get update, private state)");
  await apt.update(say);
  // Debian's 7.2 is 1:7.2+dfsg-…, its 10.0 1:10.0.2+ds-…: the first two components name it.
  const wanted = (await apt.versions("qemu-system-ppc")).find((v) => /^(?:\d+:)?(\d+\.\d+)/.exec(v)?.[1] === version);
  if (!wanted) throw new SetupError(`no qemu-system-ppc ${version}.x in Debian 12 or its backports`);
  const fetched = fetchedQemu(version, root);
  if ("manifest" in fetched && fetched.manifest.version === wanted) {
    say(`already fetched: ${fetched.dir}`);
    return fetched;
  }
  say(`downloading qemu-system-ppc ${wanted}`);
  const packages = PACKAGES.map((name) => ({ name, version: wanted }));
  const debs = await apt.download(packages, join(root, "debs"), say);
  const work = join(root, `build-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  try {
    for (const deb of debs) await unpack(deb, work);
    writeFileSync(join(work, "manifest.json"), `${JSON.stringify({ version: wanted, packages }, null, 2)}\n`);
    const dir = join(root, version);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(root, { recursive: true });
    renameSync(work, dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const done = fetchedQemu(version, root);
  if ("problem" in done) throw new SetupError(done.problem);
  say(`fetched ${done.dir}`);
  return done;
}

/** A QEMU binary as it reports itself. */
export interface QemuIdentity {
  binary: string;
  /** "7.2.22" */
  version: string;
  /** The package's own words in parentheses, if any: "Debian 1:7.2+dfsg-7+deb12u18". */
  build?: string;
}

/** `QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)` → its parts. */
export function parseQemuVersion(text: string): { version: string; build?: string } | undefined {
  const found = /QEMU emulator version (\d+\.\d+(?:\.\d+)?)(?:\s*\(([^)]*)\))?/.exec(text);
  if (!found) return undefined;
  return { version: found[1]!, ...(found[2] ? { build: found[2] } : {}) };
}

/** How a QEMU identity reads in a report: "QEMU 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)". */
export function describeQemu(identity: { version: string; build?: string }): string {
  return `QEMU ${identity.version}${identity.build ? ` (${identity.build})` : ""}`;
}

/** Whether a QEMU's own version (7.2.22) is of this tcespec version (7.2). */
export function belongsTo(version: string, asked: QemuVersion): boolean {
  return version === asked || version.startsWith(`${asked}.`);
}

/** Asks the binary itself (`--version`), or says why it cannot be asked. */
export function readQemuVersion(binary: string): QemuIdentity | { problem: string } {
  let text: string;
  try {
    text = execFileSync(binary, ["--version"], { encoding: "utf8", timeout: 20_000, stdio: ["ignore", "pipe", "pipe"] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === "ENOENT") return { problem: `${binary} not found: install Debian's qemu-system-ppc package, run 'tcespec qemu setup 7.2', or pass --qemu PATH` };
    return { problem: `${binary} --version failed: ${(e.stderr ?? e.message).trim().split("\n")[0]}` };
  }
  const parsed = parseQemuVersion(text);
  if (!parsed) return { problem: `${binary} --version did not name a QEMU version: '${text.trim().split("\n")[0]?.slice(0, 80)}'` };
  return { binary: onPath(binary), ...parsed };
}

/** Where a bare command name is found on PATH (what ran), or the name as given. */
function onPath(binary: string): string {
  if (binary.includes("/")) return binary;
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, binary);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return binary;
}

/**
 * Why this QEMU cannot stand for `asked`'s profile, if it cannot: both versions named, and how to
 * get the right one.
 */
export function versionMismatch(identity: QemuIdentity, asked: QemuVersion, where = identity.binary): string | undefined {
  if (belongsTo(identity.version, asked)) return undefined;
  return `${where} is ${describeQemu(identity)}, not ${asked}: its runs cannot stand for profile ${QEMU_VERSIONS[asked]} ('tcespec qemu setup ${asked}' fetches Debian's ${asked}; --qemu PATH names another binary)`;
}

/**
 * The binary the qemu backend runs for a version when none is named: $TCESPEC_QEMU, else the one
 * `tcespec qemu setup V` fetched, else (7.2 only) qemu-system-ppc64 from PATH, version-checked
 * like any other.
 */
export function defaultQemu(version: QemuVersion, root = qemuCache()): { binary: string; dataDir?: string } | { problem: string } {
  if (process.env.TCESPEC_QEMU) return { binary: process.env.TCESPEC_QEMU };
  const fetched = fetchedQemu(version, root);
  if (!("problem" in fetched)) return { binary: fetched.binary, dataDir: fetched.dataDir };
  return version === "7.2" ? { binary: "qemu-system-ppc64" } : fetched;
}
