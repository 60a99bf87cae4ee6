// The real QEMUs the qemu backend runs: Debian 12's own 7.2 from PATH, and 10.0 from Debian's
// bookworm-backports, fetched for the host's architecture into the user's cache (private apt
// state, dpkg -x, no root) by `tcespec qemu setup 10.0`.
import { cacheDir } from "../../cache.js";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
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
  const wanted = (await apt.versions("qemu-system-ppc")).find((v) => v.replace(/^\d+:/, "").startsWith(`${version}.`));
  if (!wanted) throw new SetupError(`no qemu-system-ppc ${version}.x in Debian 12 or its backports`);
  const fetched = fetchedQemu(version, root);
  if ("manifest" in fetched && fetched.manifest.version === wanted) {
    say(`already fetched: ${fetched.dir}`);
    return fetched;
  }
  say(`downloading qemu-system-ppc ${wanted}`);
  const packages = PACKAGES.map((name) => ({ name, version: wanted }));
  const debs = await apt.download(packages, join(root, "debs"));
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
