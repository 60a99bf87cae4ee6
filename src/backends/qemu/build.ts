// QEMU built from source: Debian's source package (fetched with a private apt state, Debian's own
// patches applied, so it answers as the packaged binary does) or a user's tree, with the user's
// patches on top, for this host (TCG, the qemu backend) and cross-compiled for ppc64el (L1, the
// kvm backend). Everything lives in the cache:
//   sources/  Debian's source, unpacked and patched by Debian, never touched again
//   trees/    one working copy per source: patches come and go there, and ninja's build
//             directory per target is kept, so a second patch set rebuilds only what it touched
//   sysroot/  the ppc64el -dev packages the cross build links against (dpkg -x, never multiarch)
//   artifacts/KEY  a built binary, KEY the hash of source, patches, configure flags and toolchain
//   named/NAME     a build by name: which artifacts, from what
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { cacheDir } from "../../cache.js";
import { qemuBuildSchema, type BuildTarget, type QemuBuildManifest } from "../../schema/qemu-build.js";
import { validator } from "../../schema/validate.js";
import { SetupError, unpack } from "../kvm/apt.js";
import { cpio, fileEntry } from "../kvm/cpio.js";
import type { ProfileName } from "../../engine/types.js";
import { isQemuVersion, QEMU_VERSIONS, type QemuVersion } from "./versions.js";
import {
  compilerId,
  debianSource,
  findOnShelf,
  listShelf,
  found,
  freshLists,
  lock,
  prepareTree,
  privateApt,
  publish,
  readPatches,
  runLogged,
  saveState,
  sha256,
  userSource,
  validBuildName,
  type Progress,
  type Shelf,
  type TreeState,
} from "../../build/source.js";

export { patchTargets, validBuildName, type Progress } from "../../build/source.js";
export type { BuildTarget, QemuBuildManifest };
export const BUILD_TARGETS: readonly BuildTarget[] = ["tcg", "kvm"];
const CROSS = "powerpc64le-linux-gnu-";

export function buildsRoot(): string {
  return cacheDir("builds");
}

const checkManifest = validator<QemuBuildManifest>(qemuBuildSchema);

export interface BuildRequest {
  name: string;
  /** Debian's source package of this QEMU version, or a directory holding a QEMU tree. */
  source: { debian: QemuVersion } | { dir: string };
  /** Patch files (-p1, as git format-patch and diff -u write them), applied in order. */
  patches: string[];
  targets: readonly BuildTarget[];
  progress?: Progress;
  root?: string;
  /** Check for meson, flex, the -dev packages… first (default): a test's stand-in tree needs none. */
  checkTools?: boolean;
}

/** Which configure options a target is built with: qemu-system-ppc64 alone, no docs, no tools. */
export function configureFlags(target: BuildTarget): string[] {
  return [
    "--target-list=ppc64-softmmu",
    "--prefix=/usr",
    "--without-default-features",
    "--enable-fdt=system",
    "--disable-docs",
    "--disable-tools",
    "--disable-user",
    "--disable-install-blobs",
    "--disable-werror",
    ...(target === "kvm" ? ["--enable-kvm", `--cross-prefix=${CROSS}`] : []),
  ];
}

// ---------------------------------------------------------------------------------------------
// Tools

const HOST_LIBS = ["glib-2.0", "pixman-1", "zlib"];
const DEBIAN_TOOLS = "meson ninja-build flex bison pkg-config python3 gcc";
const DEBIAN_HOST_LIBS = "libglib2.0-dev libpixman-1-dev zlib1g-dev libfdt-dev";

/** What the build needs from the system that is not there, as one line naming Debian's packages; undefined when all is. */
export function missingTools(targets: readonly BuildTarget[]): string | undefined {
  const tools = ["meson", "ninja", "flex", "bison", "pkg-config", "python3", "patch", "cc", "xz"];
  if (targets.includes("kvm")) tools.push(`${CROSS}gcc`, `${CROSS}strip`);
  const missing = tools.filter((t) => !found(t));
  if (targets.includes("tcg") && found("pkg-config")) {
    for (const lib of HOST_LIBS) {
      try {
        execFileSync("pkg-config", ["--exists", lib], { stdio: "ignore" });
      } catch {
        missing.push(`${lib} (pkg-config)`);
      }
    }
  }
  // Debian's libfdt-dev has no pkg-config file: the compiler finds the library or not.
  if (targets.includes("tcg") && found("cc")) {
    const where = execFileSync("cc", ["-print-file-name=libfdt.so"], { encoding: "utf8" }).trim();
    if (!where.includes("/") || !existsSync("/usr/include/libfdt.h")) missing.push("libfdt");
  }
  if (missing.length === 0) return undefined;
  const packages = [DEBIAN_TOOLS, "patch xz-utils", ...(targets.includes("tcg") ? [DEBIAN_HOST_LIBS] : []), ...(targets.includes("kvm") ? ["gcc-powerpc64le-linux-gnu"] : [])];
  return `building QEMU needs ${missing.join(", ")}: on Debian, apt-get install ${packages.join(" ")}`;
}

/** The compiler a target is built with, as it names itself: part of every artifact's key. */
function toolchain(target: BuildTarget): string {
  return compilerId(target === "kvm" ? `${CROSS}gcc` : "cc");
}

// ---------------------------------------------------------------------------------------------
// The ppc64el sysroot

/** Interpreters and tools the -dev packages pull in that a link never reads. */
const NOT_FOR_LINKING = /^(perl.*|libperl.*|python3.*|libpython3.*|dpkg|tar|install-info|mailcap|media-types|mime-support|readline-common|pkgconf.*|pkg-config|libpkgconf.*|libglib2\.0-bin|libglib2\.0-dev-bin|libglib2\.0-data|libc-dev-bin|libc6|libc6-dev|linux-libc-dev|libcrypt-dev|libcrypt1|rpcsvc-proto|gcc-12-base|libgcc-s1)$/;

async function sysroot(root: string, say: Progress): Promise<{ dir: string; id: string }> {
  const dir = join(root, "sysroot-ppc64el");
  const ready = join(dir, ".tcespec-packages");
  if (existsSync(ready)) return { dir, id: sha256(readFileSync(ready)) };
  const apt = privateApt(root);
  await freshLists(apt, say);
  const names = new Set<string>();
  for (const dev of ["libglib2.0-dev", "libpixman-1-dev", "zlib1g-dev", "libfdt-dev"]) for (const name of await apt.closure(dev)) names.add(name);
  const packages: { name: string; version: string }[] = [];
  for (const name of [...names].filter((n) => !NOT_FOR_LINKING.test(n)).sort()) {
    const version = await apt.candidate(name);
    if (version) packages.push({ name, version });
  }
  say(`fetching ${packages.length} ppc64el -dev packages for the cross build's sysroot (dpkg -x)`);
  const debs = await apt.download(packages, join(root, "debs"), say);
  const work = `${dir}.partial`;
  rmSync(work, { recursive: true, force: true });
  for (const deb of debs) await unpack(deb, work);
  const list = packages.map((p) => `${p.name}=${p.version}`).join("\n");
  writeFileSync(join(work, ".tcespec-packages"), `${list}\n`);
  publish(work, dir);
  return { dir, id: sha256(`${list}\n`) };
}

/** The environment a cross configure runs in: pkg-config reads the sysroot, never the system's multiarch. */
function crossEnv(sysrootDir: string): NodeJS.ProcessEnv {
  const lib = join(sysrootDir, "usr/lib/powerpc64le-linux-gnu");
  return {
    ...process.env,
    // configure would look for powerpc64le-linux-gnu-pkg-config; the host's, pointed at the sysroot, is that.
    PKG_CONFIG: "pkg-config",
    PKG_CONFIG_LIBDIR: [join(lib, "pkgconfig"), join(sysrootDir, "usr/share/pkgconfig")].join(":"),
    PKG_CONFIG_SYSROOT_DIR: sysrootDir,
    // Nothing in the sysroot is a "system" directory of the cross compiler's: keep every -I and -L.
    PKG_CONFIG_SYSTEM_INCLUDE_PATH: "",
    PKG_CONFIG_SYSTEM_LIBRARY_PATH: "",
    PKG_CONFIG_ALLOW_SYSTEM_CFLAGS: "1",
    PKG_CONFIG_ALLOW_SYSTEM_LIBS: "1",
  };
}

/** Every configure option of a target's build: its own, and for the cross build where the sysroot is. */
function buildFlags(target: BuildTarget, cross?: { dir: string }): string[] {
  return [...configureFlags(target), ...(cross ? crossLinkFlags(cross.dir) : [])];
}

function crossLinkFlags(sysrootDir: string): string[] {
  const dirs = ["usr/lib/powerpc64le-linux-gnu", "lib/powerpc64le-linux-gnu"].map((d) => join(sysrootDir, d));
  return [`--extra-cflags=-isystem ${join(sysrootDir, "usr/include")}`, `--extra-ldflags=${dirs.map((d) => `-L${d} -Wl,-rpath-link,${d}`).join(" ")}`];
}

/** Configures (when the options changed or it never was) and builds qemu-system-ppc64 for a target; returns the binary. */
async function buildTarget(tree: string, state: TreeState, target: BuildTarget, cross: { dir: string } | undefined, say: Progress): Promise<string> {
  const build = join(tree, `build-${target}`);
  const flags = buildFlags(target, cross);
  const env = cross ? crossEnv(cross.dir) : process.env;
  if (state.configured[target] !== flags.join(" ") || !existsSync(join(build, "build.ninja"))) {
    rmSync(build, { recursive: true, force: true });
    mkdirSync(build, { recursive: true });
    say(`configure (${target === "kvm" ? "ppc64el, for L1" : "this host, TCG"})`);
    await runLogged(join(tree, "src", "configure"), flags, { cwd: build, env, log: join(tree, `configure-${target}.log`) });
    state.configured[target] = flags.join(" ");
    saveState(tree, state);
  }
  let last = 0;
  let steps = "";
  await runLogged("ninja", ["-j", String(availableParallelism()), "qemu-system-ppc64"], {
    cwd: build,
    env,
    log: join(tree, `ninja-${target}.log`),
    onLine: (line) => {
      const step = /^\[(\d+)\/(\d+)\]/.exec(line);
      if (!step) return;
      steps = `${step[1]}/${step[2]}`;
      if (Date.now() - last < 5000 && step[1] !== step[2]) return;
      last = Date.now();
      say(`ninja ${target} [${steps}]`);
    },
  });
  if (!steps) say(`ninja ${target}: nothing to rebuild`);
  return join(build, "qemu-system-ppc64");
}

// ---------------------------------------------------------------------------------------------
// Builds

export interface QemuBuild {
  manifest: QemuBuildManifest;
  dir: string;
  /** The binary per target built. */
  binaries: Partial<Record<BuildTarget, string>>;
  /** The kvm target's binary as a cpio to append to L1's initramfs: it replaces L1's qemu-system-ppc64. */
  overlay?: string;
}

const artifactDir = (root: string, key: string) => join(root, "artifacts", key);

function builtFrom(root: string, manifest: QemuBuildManifest, dir: string): QemuBuild {
  const binaries: Partial<Record<BuildTarget, string>> = {};
  for (const target of BUILD_TARGETS) {
    const artifact = manifest.targets[target];
    if (artifact) binaries[target] = join(artifactDir(root, artifact.key), "qemu-system-ppc64");
  }
  const overlay = manifest.targets.kvm ? join(artifactDir(root, manifest.targets.kvm.key), "overlay.cpio") : undefined;
  return { manifest, dir, binaries, ...(overlay ? { overlay } : {}) };
}

const SHELF: Shelf<QemuBuildManifest, QemuBuild> = {
  dir: "named",
  valid: validBuildName,
  check: checkManifest,
  built: builtFrom,
  files: (build) => [...Object.values(build.binaries), ...(build.overlay ? [build.overlay] : [])],
  unknown: (name, known) =>
    `no QEMU build named '${name}' (${known.length > 0 ? `builds: ${known.join(", ")}` : "none yet"}; 'tcespec qemu build ${name} --debian 7.2 …' makes one)`,
  again: (name) => `build '${name}' again`,
};

/** A build by name, checked (its manifest and every binary it names), or why it cannot be used. */
export function findBuild(name: string, root = buildsRoot()): QemuBuild | { problem: string } {
  return findOnShelf(SHELF, name, root);
}

export function listBuilds(root = buildsRoot()): (QemuBuild | { dir: string; problem: string })[] {
  return listShelf(SHELF, root);
}

/** Removes a build by name, and every artifact no other build names. */
export function removeBuild(name: string, root = buildsRoot()): boolean {
  const dir = join(root, "named", name);
  if (!validBuildName(name) || !existsSync(dir)) return false;
  rmSync(dir, { recursive: true, force: true });
  const used = new Set(
    listBuilds(root)
      .filter((b): b is QemuBuild => "manifest" in b)
      .flatMap((b) => Object.values(b.manifest.targets).map((t) => t!.key)),
  );
  const artifacts = join(root, "artifacts");
  if (existsSync(artifacts)) for (const key of readdirSync(artifacts)) if (!used.has(key)) rmSync(join(artifacts, key), { recursive: true, force: true });
  return true;
}

/** The QEMU version family (7.2, 10.0) of a build's base version (7.2.22), if tcespec has a profile for it. */
export function baseFamily(base: string): QemuVersion | undefined {
  const family = /^(\d+\.\d+)/.exec(base)?.[1];
  return family && isQemuVersion(family) ? family : undefined;
}

/**
 * The profile a build's runs stand for: the one asked for, else its base version's. Why there is
 * none, when neither is.
 */
export function buildProfile(build: QemuBuild, standsFor?: ProfileName): ProfileName | { problem: string } {
  const family = baseFamily(build.manifest.base);
  if (standsFor) return standsFor;
  if (family) return QEMU_VERSIONS[family];
  return { problem: `QEMU build '${build.manifest.name}' is of QEMU ${build.manifest.base}, which no profile stands for: name one with --profile` };
}

/** How reports name a build: its name, base version, source and patches. */
export function describeBuild(manifest: QemuBuildManifest): string {
  const patches = manifest.patches.map((p) => `${p.name} (sha256 ${p.sha256.slice(0, 12)})`).join(", ");
  return `tcespec build '${manifest.name}': QEMU ${manifest.base} from ${manifest.source.label}${patches ? ` + ${patches}` : ", no patches"}`;
}

/** Builds (or finds in the cache) QEMU from a source with patches, for each target; records it by name. */
export async function buildQemu(request: BuildRequest): Promise<{ build: QemuBuild; cached: BuildTarget[] }> {
  const root = request.root ?? buildsRoot();
  const say = request.progress ?? (() => {});
  if (!validBuildName(request.name)) throw new SetupError(`a build's name is letters, digits, '.', '_' and '-', not '${request.name}'`);
  const patches = readPatches(request.patches);
  const source = "debian" in request.source ? await debianSource({ name: "qemu", family: request.source.debian, prefix: "debian-", title: "QEMU" }, root, say)
      : userSource(request.source.dir, (dir) => (existsSync(join(dir, "configure")) && existsSync(join(dir, "hw", "ppc")) ? undefined : "is not a QEMU source tree (no configure, no hw/ppc)"));
  const keyOf = (target: BuildTarget, cross?: { dir: string; id: string }) =>
    sha256(JSON.stringify({ source: source.id, patches: patches.map((p) => p.sha256), flags: buildFlags(target, cross), toolchain: toolchain(target), sysroot: cross?.id ?? null })).slice(0, 16);
  const targets: Partial<Record<BuildTarget, { key: string; bytes: number }>> = {};
  const cached: BuildTarget[] = [];
  let base: string | undefined;
  const tree = join(root, "trees", source.place);
  let release: (() => void) | undefined;
  let state: TreeState | undefined;
  try {
    for (const target of request.targets) {
      const cross = target === "kvm" ? await sysroot(root, say) : undefined;
      const key = keyOf(target, cross);
      const artifact = artifactDir(root, key);
      const info = join(artifact, "info.json");
      if (existsSync(info)) {
        const recorded = JSON.parse(readFileSync(info, "utf8")) as { base: string; bytes: number };
        base = recorded.base;
        targets[target] = { key, bytes: recorded.bytes };
        cached.push(target);
        say(`${target}: already built (${artifact})`);
        continue;
      }
      const missing = request.checkTools === false ? undefined : missingTools([target]);
      if (missing) throw new SetupError(missing);
      if (!release) {
        release = lock(tree);
        state = prepareTree(source, patches, tree, say);
      }
      const binary = await buildTarget(tree, state!, target, cross, say);
      base = readFileSync(join(tree, "src", "VERSION"), "utf8").trim();
      const work = `${artifact}.partial`;
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      const out = join(work, "qemu-system-ppc64");
      if (target === "kvm") {
        // 65 MB with symbols, 17 MB without: L1 reads every byte of its initramfs at boot.
        execFileSync(`${CROSS}strip`, ["-o", out, binary]);
        writeFileSync(join(work, "overlay.cpio"), cpio([fileEntry("usr/bin/qemu-system-ppc64", readFileSync(out), true)]));
      } else copyFileSync(binary, out);
      const bytes = statSync(out).size;
      writeFileSync(join(work, "info.json"), JSON.stringify({ key, target, base, source: source.label, patches: patches.map((p) => ({ name: p.name, sha256: p.sha256 })), bytes, built: new Date().toISOString() }, null, 2));
      publish(work, artifact);
      targets[target] = { key, bytes };
      say(`${target}: built ${join(artifact, "qemu-system-ppc64")} (${(bytes / 1048576).toFixed(1)} MiB)`);
    }
  } finally {
    release?.();
  }
  // The same name built again from the same source and patches for another target keeps the first target.
  const dir = join(root, "named", request.name);
  const before = findBuild(request.name, root);
  const same =
    "manifest" in before &&
    before.manifest.source.label === source.label &&
    before.manifest.patches.map((p) => p.sha256).join() === patches.map((p) => p.sha256).join();
  const manifest: QemuBuildManifest = {
    version: 1,
    name: request.name,
    base: base ?? "unknown",
    source: { label: source.label, ...(source.debian ? { debian: source.debian } : {}), ...(source.user ? { dir: source.dir } : {}) },
    patches: patches.map((p) => ({ name: p.name, path: p.path, sha256: p.sha256 })),
    targets: same ? { ...before.manifest.targets, ...targets } : targets,
    built: new Date().toISOString(),
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  return { build: builtFrom(root, manifest, dir), cached };
}
