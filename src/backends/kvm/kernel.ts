// L1's kernel built from source: Debian's source package (deb-src through the private apt state,
// Debian's own patches applied) or a user's tree, with the user's patches on top, cross-compiled
// for ppc64le with a small configuration that has what L1 needs and every driver built in (no
// modules: the image's init finds nothing to load). The build machinery is the QEMU build's
// (src/build/source.ts); the cache is the same:
//   sources/debian-linux-6.12-…  Debian's source, never touched again
//   trees/debian-linux-6.12      the working copy, one make output directory per configuration
//   kernel-artifacts/KEY         vmlinux, its .config, and the overlay that empties L1's module lists
//   kernels/NAME                 a kernel build by name: which artifact, from what
import { execFileSync } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { every } from "../../build/lines.js";
import { kernelBuildSchema, type KernelBuildManifest } from "../../schema/kernel-build.js";
import { validator } from "../../schema/validate.js";
import { SetupError } from "./apt.js";
import { cpio, fileEntry } from "./cpio.js";
import {
  compilerId,
  debianSource,
  findOnShelf,
  listShelf,
  found,
  lock,
  prepareTree,
  publish,
  readPatches,
  runLogged,
  saveState,
  sha256,
  userSource,
  type Progress,
  type Shelf,
  type TreeState,
} from "../../build/source.js";
import { buildsRoot } from "../qemu/build.js";
import type { KernelRulesName } from "../../engine/kvm.js";

export type { KernelBuildManifest };

const CROSS = "powerpc64le-linux-gnu-";
const DEFCONFIG = "ppc64le_guest_defconfig";
/** Debian kernel families tcespec builds from (deb-src of bookworm-backports). */
export const KERNEL_FAMILIES = ["6.12"] as const;

/** What L1 must have, built in: checked in the final .config, so a tree whose Kconfig drops one says so. */
export const L1_NEEDS = [
  "PPC_PSERIES",
  "PPC_64K_PAGES",
  "PPC_RADIX_MMU",
  "HVC_CONSOLE",
  "BLK_DEV_INITRD",
  "DEVTMPFS",
  "KVM_BOOK3S_64",
  "KVM_BOOK3S_64_HV",
  "VFIO",
  "VFIO_IOMMU_SPAPR_TCE",
  "VFIO_PCI",
  "HOTPLUG_PCI",
] as const;

/**
 * The configuration: the guest defconfig, every module it would build turned off (made built-in,
 * its torture and self tests would run at every boot), then these. The list is part of every
 * artifact's key.
 */
export function configEdits(kasan: boolean): string[] {
  return [
    "--disable MODULES",
    ...L1_NEEDS.map((s) => `--enable ${s}`),
    "--set-str LOCALVERSION -tcespec",
    "--disable LOCALVERSION_AUTO",
    // No debug info: a third of the build time, and L1 reads the whole vmlinux at boot.
    "--disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT",
    "--disable DEBUG_INFO_DWARF4",
    "--disable DEBUG_INFO_DWARF5",
    "--enable DEBUG_INFO_NONE",
    ...(kasan ? ["--enable KASAN", "--enable KASAN_GENERIC", "--enable KASAN_OUTLINE", "--disable KASAN_INLINE"] : ["--disable KASAN"]),
  ];
}

/**
 * make variables of a build. 64-bit Book3S builds all of arch/powerpc/kvm without KASAN ("KVM does
 * a lot in real-mode"), so a KASAN kernel cannot see the TCE hypercalls' accesses past
 * stt->pages[]; book3s_64_vio.c runs in virtual mode only since the real-mode handlers went, and
 * a command-line variable instruments that one file, leaving the source untouched.
 */
export function makeVariables(kasan: boolean): string[] {
  return kasan ? ["KASAN_SANITIZE_book3s_64_vio.o=y"] : [];
}

export function kernelsRoot(): string {
  return buildsRoot();
}

const checkManifest = validator<KernelBuildManifest>(kernelBuildSchema);

/** A kernel build's name starts with a letter: `--kernel` takes it or a Debian version (6.12.95). */
export const validKernelName = (name: string) => /^[A-Za-z][A-Za-z0-9._-]*$/.test(name);

/** What the kernel build needs from the system that is not there, as one line naming Debian's packages. */
export function missingKernelTools(): string | undefined {
  const tools = ["make", "cc", "flex", "bison", "bc", "perl", "patch", "xz", `${CROSS}gcc`, `${CROSS}strip`];
  const missing = tools.filter((t) => !found(t));
  // objtool links libelf; extract-cert (the trusted keyring) links libcrypto: both are built for this host.
  if (!existsSync("/usr/include/gelf.h") && !existsSync("/usr/include/libelf.h")) missing.push("libelf headers");
  if (!existsSync("/usr/include/openssl/x509.h")) missing.push("OpenSSL headers");
  if (missing.length === 0) return undefined;
  return `building a kernel needs ${missing.join(", ")}: on Debian, apt-get install make gcc flex bison bc perl patch xz-utils libelf-dev libssl-dev gcc-powerpc64le-linux-gnu`;
}

export interface KernelBuildRequest {
  name: string;
  /** Debian's source package of this kernel family (6.12), or a directory holding a Linux tree. */
  source: { debian: string } | { dir: string };
  /** Patch files (-p1), applied in order. */
  patches: string[];
  kasan?: boolean;
  /** The model's host-kernel rules it stands for (default linux-6: the kernel as released). */
  rules?: KernelRulesName;
  progress?: Progress;
  root?: string;
  /** Check for make, the cross compiler, libelf… first (default): a test's stand-in tree needs none. */
  checkTools?: boolean;
}

export interface KernelBuild {
  manifest: KernelBuildManifest;
  dir: string;
  vmlinux: string;
  /** Appended to L1's initramfs: empties its module lists (everything L1 needs is built in). */
  overlay: string;
  /** The configuration it was built with. */
  config: string;
}

const artifactDir = (root: string, key: string) => join(root, "kernel-artifacts", key);

function builtFrom(root: string, manifest: KernelBuildManifest, dir: string): KernelBuild {
  const artifact = artifactDir(root, manifest.artifact.key);
  return { manifest, dir, vmlinux: join(artifact, "vmlinux"), overlay: join(artifact, "overlay.cpio"), config: join(artifact, "config") };
}

const SHELF: Shelf<KernelBuildManifest, KernelBuild> = {
  dir: "kernels",
  valid: validKernelName,
  check: checkManifest,
  built: builtFrom,
  files: (build) => [build.vmlinux, build.overlay],
  unknown: (name, known) =>
    `no kernel build named '${name}' (${known.length > 0 ? `builds: ${known.join(", ")}` : "none yet"}; 'tcespec kvm kernel build ${name} --debian 6.12 …' makes one)`,
  again: (name) => `build kernel '${name}' again`,
};

/** A kernel build by name, checked, or why it cannot be used. */
export function findKernel(name: string, root = kernelsRoot()): KernelBuild | { problem: string } {
  return findOnShelf(SHELF, name, root);
}

export function listKernels(root = kernelsRoot()): (KernelBuild | { dir: string; problem: string })[] {
  return listShelf(SHELF, root);
}

/** Removes a kernel build by name, and its artifact unless another kernel build names it. */
export function removeKernel(name: string, root = kernelsRoot()): boolean {
  const dir = join(root, "kernels", name);
  if (!validKernelName(name) || !existsSync(dir)) return false;
  const gone = findKernel(name, root);
  rmSync(dir, { recursive: true, force: true });
  if ("manifest" in gone) {
    const used = listKernels(root).some((b) => "manifest" in b && b.manifest.artifact.key === gone.manifest.artifact.key);
    if (!used) rmSync(artifactDir(root, gone.manifest.artifact.key), { recursive: true, force: true });
  }
  return true;
}

/**
 * The kernel's banner as its vmlinux holds it ("Linux version 6.12.95-tcespec (…) #4 SMP Thu Dec 3
 * 07:05:37 UTC 2026"): what L1's /proc/version says when this build booted. Two builds of one
 * release differ in their build number and date. Undefined when the file holds none.
 */
export function bannerOf(vmlinux: string): string | undefined {
  const text = readFileSync(vmlinux).toString("latin1");
  for (const found of text.matchAll(/Linux version [^\n\0]*/g)) if (/ #\d+ /.test(found[0])) return found[0].trim();
  return undefined;
}

/** How reports name a kernel build: its name, release, source, patches and KASAN. */
export function describeKernel(manifest: KernelBuildManifest): string {
  const patches = manifest.patches.map((p) => `${p.name} (sha256 ${p.sha256.slice(0, 12)})`).join(", ");
  return `tcespec kernel '${manifest.name}': Linux ${manifest.base} from ${manifest.source.label}${patches ? ` + ${patches}` : ", no patches"}${manifest.kasan ? ", KASAN" : ""}${manifest.rules !== "linux-6" ? `; stands for ${manifest.rules}` : ""}`;
}

const isElf = (path: string) => {
  const fd = openSync(path, "r");
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
};

/** make in the working tree, for ppc64le, into an output directory. */
function makeArgs(out: string, ...targets: string[]): string[] {
  return [`O=${out}`, "ARCH=powerpc", `CROSS_COMPILE=${CROSS}`, ...targets];
}

function makeSays(src: string, out: string, target: string): string {
  return execFileSync("make", ["-s", "-C", src, ...makeArgs(out, target)], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
}

/** Configures an output directory (once per configuration) and checks that L1 has what it needs. */
async function configure(tree: string, state: TreeState, out: string, edits: string[], kasan: boolean, say: Progress): Promise<void> {
  const src = join(tree, "src");
  const id = edits.join(" ");
  if (state.configured[out] === id && existsSync(join(out, ".config"))) return;
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  // A user's tree built in place refuses O= builds until it is clean (only the working copy is cleaned).
  if (existsSync(join(src, ".config")) || existsSync(join(src, "include", "config"))) {
    say("cleaning the working copy (it was built in place)");
    await runLogged("make", ["-C", src, "ARCH=powerpc", "mrproper"], { cwd: src, log: join(tree, "mrproper.log") });
  }
  say(`configure: ${DEFCONFIG}, no modules, KVM-HV, VFIO and the sPAPR TCE IOMMU built in${kasan ? ", KASAN" : ""}`);
  const log = join(tree, `configure-${kasan ? "kasan" : "plain"}.log`);
  await runLogged("make", ["-C", src, ...makeArgs(out, DEFCONFIG)], { cwd: src, log });
  const modules = [...readFileSync(join(out, ".config"), "utf8").matchAll(/^CONFIG_([A-Za-z0-9_]+)=m$/gm)].map((m) => `--disable ${m[1]}`);
  const args = [...modules, ...edits].flatMap((e) => e.split(" "));
  await runLogged(join(src, "scripts", "config"), ["--file", join(out, ".config"), ...args], { cwd: out, log: `${log}.edit` });
  await runLogged("make", ["-C", src, ...makeArgs(out, "olddefconfig")], { cwd: src, log: `${log}.old` });
  checkConfig(out, kasan, "olddefconfig");
  state.configured[out] = id;
  saveState(tree, state);
}

/**
 * What L1 needs is in the configuration: checked after configure (before a long build) and after
 * make (whose syncconfig follows a patched or changed Kconfig).
 */
function checkConfig(out: string, kasan: boolean, after: string): void {
  const config = readFileSync(join(out, ".config"), "utf8");
  const lacking = [...L1_NEEDS, ...(kasan ? ["KASAN"] : [])].filter((s) => !new RegExp(`^CONFIG_${s}=y$`, "m").test(config));
  if (lacking.length > 0) throw new SetupError(`the kernel's configuration has no ${lacking.map((s) => `CONFIG_${s}`).join(", ")} after ${after} (its Kconfig dropped them: see ${join(out, ".config")})`);
  if (/^CONFIG_MODULES=y$/m.test(config)) throw new SetupError(`CONFIG_MODULES stayed on (${join(out, ".config")}): L1 would have modules it never loads`);
}

/** Builds vmlinux, with make's progress (objects compiled) every 2 s. */
async function makeVmlinux(tree: string, out: string, variables: string[], say: Progress): Promise<void> {
  const src = join(tree, "src");
  let compiled = 0;
  const tell = every(2000, say);
  await runLogged("make", ["-C", src, `-j${availableParallelism()}`, ...variables, ...makeArgs(out, "vmlinux")], {
    cwd: src,
    log: join(tree, `make-${out.split("-").pop()}.log`),
    onLine: (line) => {
      if (/^\s+(CC|AS|LD|AR)\s/.test(line)) compiled++;
      tell(() => `make vmlinux: ${compiled} objects built`);
    },
  });
  say(compiled > 0 ? `make vmlinux: ${compiled} objects built, done` : "make vmlinux: nothing to rebuild");
}

/** Builds (or finds in the cache) a kernel from a source with patches; records it by name. */
export async function buildKernel(request: KernelBuildRequest): Promise<{ build: KernelBuild; cached: boolean }> {
  const root = request.root ?? kernelsRoot();
  const say = request.progress ?? (() => {});
  const kasan = request.kasan ?? false;
  if (!validKernelName(request.name))
    throw new SetupError(`a kernel build's name starts with a letter, then letters, digits, '.', '_' and '-', not '${request.name}' (--kernel takes a name or a Debian version)`);
  const patches = readPatches(request.patches);
  const source =
    "debian" in request.source
      ? await debianSource({ name: "linux", family: request.source.debian, prefix: "debian-linux-", title: "Linux" }, root, say)
      : userSource(request.source.dir, (dir) => (existsSync(join(dir, "Makefile")) && existsSync(join(dir, "arch", "powerpc")) ? undefined : "is not a Linux source tree (no Makefile, no arch/powerpc)"));
  const edits = configEdits(kasan);
  const key = sha256(
    JSON.stringify({ source: source.id, patches: patches.map((p) => p.sha256), defconfig: DEFCONFIG, edits, make: makeVariables(kasan), toolchain: compilerId(`${CROSS}gcc`) }),
  ).slice(0, 16);
  const artifact = artifactDir(root, key);
  const info = join(artifact, "info.json");
  let recorded: { base: string; release: string; bytes: number };
  let cached = false;
  if (existsSync(info) && existsSync(join(artifact, "vmlinux"))) {
    recorded = JSON.parse(readFileSync(info, "utf8")) as typeof recorded;
    cached = true;
    say(`already built (${artifact})`);
  } else {
    const missing = request.checkTools === false ? undefined : missingKernelTools();
    if (missing) throw new SetupError(missing);
    const tree = join(root, "trees", source.place);
    const release = lock(tree);
    try {
      const state = prepareTree(source, patches, tree, say);
      // One output directory per configuration: KASAN and plain builds of one tree both stay incremental.
      const out = join(tree, `build-${sha256(edits.join(" ")).slice(0, 8)}`);
      await configure(tree, state, out, edits, kasan, say);
      await makeVmlinux(tree, out, makeVariables(kasan), say);
      checkConfig(out, kasan, "make vmlinux");
      const src = join(tree, "src");
      const base = makeSays(src, out, "kernelversion");
      const kernelRelease = makeSays(src, out, "kernelrelease");
      const work = `${artifact}.partial`;
      rmSync(work, { recursive: true, force: true });
      mkdirSync(work, { recursive: true });
      const vmlinux = join(work, "vmlinux");
      // The symbol table is of no use to L0 (the kernel's own kallsyms names functions in a report).
      if (isElf(join(out, "vmlinux"))) execFileSync(`${CROSS}strip`, ["-o", vmlinux, join(out, "vmlinux")]);
      else copyFileSync(join(out, "vmlinux"), vmlinux);
      copyFileSync(join(out, ".config"), join(work, "config"));
      writeFileSync(join(work, "overlay.cpio"), cpio([fileEntry("mod/order", ""), fileEntry("mod/optional", "")]));
      recorded = { base, release: kernelRelease, bytes: statSync(vmlinux).size };
      writeFileSync(
        join(work, "info.json"),
        JSON.stringify({ key, ...recorded, source: source.label, patches: patches.map((p) => ({ name: p.name, sha256: p.sha256 })), kasan, built: new Date().toISOString() }, null, 2),
      );
      publish(work, artifact);
      say(`built ${join(artifact, "vmlinux")} (Linux ${kernelRelease}, ${(recorded.bytes / 1048576).toFixed(1)} MiB)`);
    } finally {
      release();
    }
  }
  const dir = join(root, "kernels", request.name);
  const before = findKernel(request.name, root);
  const manifest: KernelBuildManifest = {
    version: 1,
    name: request.name,
    base: recorded.base,
    release: recorded.release,
    source: { label: source.label, ...(source.debian ? { debian: source.debian } : {}), ...(source.user ? { dir: source.dir } : {}) },
    patches: patches.map((p) => ({ name: p.name, path: p.path, sha256: p.sha256 })),
    kasan,
    rules: request.rules ?? "linux-6",
    artifact: { key, bytes: recorded.bytes },
    built: new Date().toISOString(),
  };
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
  // The name's last build, now named by nothing, goes (a name rebuilt from a changed tree).
  if ("manifest" in before && before.manifest.artifact.key !== key && !listKernels(root).some((b) => "manifest" in b && b.manifest.artifact.key === before.manifest.artifact.key))
    rmSync(artifactDir(root, before.manifest.artifact.key), { recursive: true, force: true });
  return { build: builtFrom(root, manifest, dir), cached };
}
