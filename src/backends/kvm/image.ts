// The L1 machine's image: a Debian ppc64le kernel and an initramfs holding busybox, kvm.ko and
// kvm-hv.ko, Debian's ppc64el QEMU with its libraries, and the capability shim. Built once by
// `tcespec kvm setup` into the user's cache, keyed by the package versions, checked by checksum.
import { cacheDir } from "../../cache.js";
import { execFile, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { validator } from "../../schema/validate.js";
import { kvmImageSchema, type ImageFile, type KvmImageManifest } from "../../schema/kvm-image.js";
import { PrivateApt, SetupError, unpack } from "./apt.js";
import { cpio, treeEntries } from "./cpio.js";
import { SHIM_SOURCE } from "./caps.js";
import { pruneTree, walk } from "./prune.js";
import type { QemuVersion } from "../qemu/versions.js";

const exec = promisify(execFile);

/** Debian's 6.12 64K-page build runs KVM-HV and vfio-pci alike; the newest one is the default. */
const DEFAULT_KERNEL = /^linux-image-(6\.12\.[0-9.]+\+deb12-powerpc64le-64k)$/;
const KERNEL_PACKAGE = (version: string) => `linux-image-${version}`;
export const SHIM_PATH = "/lib/tcespec-caps.so";
/** The shim's source, as an image's manifest records it. */
const SHIM_KEY = createHash("sha256").update(SHIM_SOURCE).digest("hex").slice(0, 12);
const CROSS_GCC = "powerpc64le-linux-gnu-gcc";
/** How the packages become an image, beyond INIT_SCRIPT and the shim: a change here is a new image. */
const IMAGE_LAYOUT = "2: the packages' docs left out; prune.ts";

export function cacheRoot(): string {
  return cacheDir("kvm");
}

export interface L1Image {
  dir: string;
  manifest: KvmImageManifest;
  vmlinux: string;
  initramfs: string;
}

const checkManifest = validator<KvmImageManifest>(kvmImageSchema);

function sha256(data: Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function readManifest(dir: string): KvmImageManifest | string {
  const path = join(dir, "manifest.json");
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return `${path}: ${(error as Error).message}`;
  }
  const why = checkManifest.explain(value);
  return why ? `${path}: ${why}` : (value as KvmImageManifest);
}

const builtOf = (image: L1Image | { problem: string }) => ("manifest" in image ? image.manifest.built : "");

/** Every built image in the cache, newest first. */
export function listImages(root = cacheRoot()): (L1Image | { dir: string; problem: string })[] {
  const images = join(root, "images");
  if (!existsSync(images)) return [];
  return readdirSync(images)
    .map((name) => join(images, name))
    .filter((dir) => statSync(dir).isDirectory())
    .map((dir) => {
      const manifest = readManifest(dir);
      if (typeof manifest === "string") return { dir, problem: manifest };
      return { dir, manifest, vmlinux: join(dir, manifest.files.vmlinux.name), initramfs: join(dir, manifest.files.initramfs.name) };
    })
    .sort((a, b) => builtOf(b).localeCompare(builtOf(a)));
}

/** "6.1" names 6.1.0-50-powerpc64le, not 6.12.95: a prefix ends where a version component does. */
export function versionMatches(version: string, asked: string): boolean {
  return version === asked || (version.startsWith(asked) && /^[.+-]/.test(version.slice(asked.length)));
}

/** The QEMU version (7.2, 10.0) of a qemu-system-ppc package version such as 1:10.0.2+ds-2. */
export function qemuVersionOf(packageVersion: string): string {
  return /^(?:\d+:)?(\d+\.\d+)/.exec(packageVersion)?.[1] ?? packageVersion;
}

/**
 * The image to boot: the newest for the kernel asked for (a prefix of its version) with that QEMU
 * in L1 (default 7.2), checked by checksum.
 */
export function findImage(kernel?: string, root: string = cacheRoot(), qemu: QemuVersion = "7.2"): L1Image | { problem: string } {
  const images = listImages(root).filter((i): i is L1Image => "manifest" in i && qemuVersionOf(i.manifest.qemu) === qemu);
  const image = images.find((i) => (kernel ? versionMatches(i.manifest.kernel, kernel) : DEFAULT_KERNEL.test(KERNEL_PACKAGE(i.manifest.kernel))));
  if (!image) {
    const flags = [...(kernel ? [`--kernel ${kernel}`] : []), ...(qemu !== "7.2" ? [`--qemu-version ${qemu}`] : [])].join(" ");
    return {
      problem: `no L1 image${kernel ? ` for kernel ${kernel}` : ""} with QEMU ${qemu} in ${root}: run 'tcespec kvm setup${flags ? ` ${flags}` : ""}' first`,
    };
  }
  // The shim copies the guest's console into L1's kernel log, where a WARN is placed: an image
  // with an older shim would leave every WARN unplaced.
  if (image.manifest.shim && image.manifest.shimSource !== SHIM_KEY)
    return { problem: `${image.dir} was built by an older tcespec (its shim differs): run 'tcespec kvm setup${kernel ? ` --kernel ${kernel}` : ""}${qemu !== "7.2" ? ` --qemu-version ${qemu}` : ""}' again` };
  for (const file of [image.manifest.files.vmlinux, image.manifest.files.initramfs]) {
    const path = join(image.dir, file.name);
    if (!existsSync(path) || sha256(readFileSync(path)) !== file.sha256)
      return { problem: `${path} is missing or damaged (checksum): run 'tcespec kvm setup' again` };
  }
  return image;
}

function versionKey(version: string): number[] {
  return version.split(/[^0-9]+/).filter(Boolean).map(Number);
}
function compareVersions(a: string, b: string): number {
  const x = versionKey(a);
  const y = versionKey(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? -1) !== (y[i] ?? -1)) return (x[i] ?? -1) - (y[i] ?? -1);
  return 0;
}

/** A kernel module's dependencies, from its .modinfo section ("depends=a,b"). */
function moduleDepends(module: Buffer): string[] {
  const at = module.indexOf("\0depends=");
  if (at < 0) return [];
  const end = module.indexOf(0, at + 1);
  return module
    .subarray(at + 9, end)
    .toString("latin1")
    .split(",")
    .filter(Boolean);
}

async function readModule(path: string): Promise<Buffer> {
  if (!path.endsWith(".xz")) return readFileSync(path);
  try {
    const { stdout } = await exec("xz", ["-dc", path], { encoding: "buffer", maxBuffer: 256 << 20 });
    return stdout;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new SetupError("xz not found: install xz-utils (the kernel's modules are xz-compressed)");
    throw error;
  }
}

/**
 * The modules L1 loads, in load order, decompressed: kvm-hv (required), and vfio-pci with the
 * sPAPR TCE IOMMU backend (optional: a kernel without them runs no vfio spec).
 */
async function kvmModules(modulesDir: string): Promise<{ required: { name: string; data: Buffer }[]; optional: { name: string; data: Buffer }[] }> {
  const all = new Map<string, string>();
  for (const { path } of [...walk(modulesDir)].filter(({ path, stat }) => stat.isFile() && /\.ko(\.xz)?$/.test(path)))
    all.set(path.split("/").pop()!.replace(/\.ko(\.xz)?$/, "").replace(/-/g, "_"), path);
  const ordered: { name: string; data: Buffer }[] = [];
  const visit = async (name: string) => {
    const key = name.replace(/-/g, "_");
    if (ordered.some((m) => m.name === key)) return;
    const path = all.get(key);
    if (!path) throw new SetupError(`the kernel package has no module ${name}: it cannot run KVM-HV`);
    const data = await readModule(path);
    for (const dep of moduleDepends(data)) await visit(dep);
    ordered.push({ name: key, data });
  };
  await visit("kvm_hv");
  const required = ordered.length;
  for (const name of ["vfio_iommu_spapr_tce", "vfio_pci"]) {
    try {
      await visit(name);
    } catch {
      // not in this kernel: no vfio
    }
  }
  return { required: ordered.slice(0, required), optional: ordered.slice(required) };
}

export const INIT_SCRIPT = `#!/bin/busybox sh
export PATH=/usr/bin:/bin:/usr/sbin:/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
/bin/busybox --install -s /bin 2>/dev/null
for m in $(cat /mod/order); do insmod /mod/$m.ko || echo "TCESPEC-L1-ERROR insmod $m failed"; done
if [ ! -e /dev/kvm ]; then echo "TCESPEC-L1-ERROR /dev/kvm did not appear after loading kvm-hv"; poweroff -f; fi
# vfio: L0's edu device (1234:11e8), if there is one, goes to vfio-pci for the guests to take.
for m in $(cat /mod/optional); do insmod /mod/$m.ko 2>/dev/null; done
for d in /sys/bus/pci/devices/*; do
  if [ "$(cat $d/vendor 2>/dev/null)" = 0x1234 ] && [ "$(cat $d/device)" = 0x11e8 ] && [ -e /sys/bus/pci/drivers/vfio-pci ]; then
    echo 1234 11e8 > /sys/bus/pci/drivers/vfio-pci/new_id && echo "TCESPEC-L1-VFIO $(basename $d)" && VFIO_HOST=$(basename $d)
  fi
done
echo "TCESPEC-L1-READY $(cat /proc/uptime)"
[ -f /batch/run.sh ] && . /batch/run.sh
echo "TCESPEC-L1-DONE"
poweroff -f
`;

/**
 * Why an image of the same packages is made again, if it is: one made before the cross compiler
 * was installed has no shim, and with the compiler there now (as the unsupported reasons advise)
 * it gets one.
 */
export function rebuildFor(manifest: KvmImageManifest, crossCompiler: boolean): string | undefined {
  return !manifest.shim && crossCompiler ? `${CROSS_GCC} is here now: building the image again, with the capability shim` : undefined;
}

/** Whether the cross compiler that builds the shim can be run. */
function hasCrossCompiler(): boolean {
  return spawnSync(CROSS_GCC, ["--version"], { stdio: "ignore" }).status === 0;
}

async function buildShim(into: string): Promise<boolean> {
  // Without the compiler no shim (setup says so); with it, a failure to build one is an error.
  if (!hasCrossCompiler()) return false;
  const source = join(into, "..", "tcespec-caps.c");
  writeFileSync(source, SHIM_SOURCE);
  try {
    await exec(CROSS_GCC, ["-O2", "-shared", "-fPIC", "-o", join(into, "lib", "tcespec-caps.so"), source, "-ldl"]);
    return true;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? "";
    const why = stderr.split("\n").find((l) => l.includes("error")) ?? (error as Error).message.split("\n")[0];
    throw new SetupError(`building the capability shim failed: ${why}`);
  } finally {
    rmSync(source, { force: true });
  }
}

function fileRecord(path: string, name: string): ImageFile {
  const data = readFileSync(path);
  return { name, sha256: sha256(data), bytes: data.length };
}

export type Progress = (message: string) => void;

/** Fetches what L1 needs and builds its image, unless an image of the same packages is cached. */
export async function setup(options: { kernel?: string; progress?: Progress; root?: string; qemu?: QemuVersion } = {}): Promise<L1Image> {
  const root = options.root ?? cacheRoot();
  const say = options.progress ?? (() => {});
  const qemu = options.qemu ?? "7.2";
  // QEMU 10.0 is in bookworm-backports, built against what that suite has: take its versions
  // wherever it has the package, as apt-get -t bookworm-backports would.
  const apt = new PrivateApt(join(root, "apt"), undefined, qemu === "7.2" ? undefined : "bookworm-backports");
  apt.prepare();
  say("reading Debian's package lists (apt-get update, private state)");
  await apt.update(say);
  let kernel = options.kernel;
  if (!kernel) {
    const found = (await apt.search("^linux-image-6\\.12\\..*-powerpc64le-64k$"))
      .map((n) => DEFAULT_KERNEL.exec(n)?.[1])
      .filter((v): v is string => v !== undefined)
      .sort(compareVersions);
    kernel = found.pop();
    if (!kernel) throw new SetupError("no linux-image-6.12.*-powerpc64le-64k package in bookworm-backports: pass --kernel VERSION");
  }
  const kernelPackage = KERNEL_PACKAGE(kernel);
  const wanted = [...new Set([kernelPackage, "busybox-static", "qemu-system-data", ...(await apt.closure("qemu-system-ppc"))])];
  const packages: { name: string; version: string }[] = [];
  for (const name of wanted) {
    const version = await apt.candidate(name);
    if (version) packages.push({ name, version });
    else if (name === kernelPackage) throw new SetupError(`no package ${kernelPackage} for ppc64el: see 'apt-cache search linux-image' for the versions`);
  }
  packages.sort((a, b) => a.name.localeCompare(b.name));
  const qemuPackage = packages.find((p) => p.name === "qemu-system-ppc")?.version ?? "";
  if (qemuVersionOf(qemuPackage) !== qemu) throw new SetupError(`no qemu-system-ppc ${qemu}.x for ppc64el (apt offers ${qemuPackage || "none"})`);
  // The image is what the packages hold plus what tcespec puts in: a change to either is a new image.
  const key = sha256(Buffer.from([...packages.map((p) => `${p.name}=${p.version}`), INIT_SCRIPT, SHIM_SOURCE, IMAGE_LAYOUT].join("\n"))).slice(0, 12);
  const dir = join(root, "images", `${kernel}-${key}`);
  const cached = findImage(kernel, root, qemu);
  if ("manifest" in cached && cached.dir === dir) {
    const again = rebuildFor(cached.manifest, hasCrossCompiler());
    if (!again) {
      say(`already built: ${dir}`);
      return cached;
    }
    say(again);
  }
  say(`downloading ${packages.length} packages (kernel ${kernel}, qemu-system-ppc ${packages.find((p) => p.name === "qemu-system-ppc")?.version})`);
  const debs = await apt.download(packages, join(root, "debs"), say);
  const work = join(root, `build-${process.pid}`);
  rmSync(work, { recursive: true, force: true });
  const tree = join(work, "root");
  const kernelTree = join(work, "kernel");
  try {
    say("unpacking");
    for (const [i, deb] of debs.entries()) await unpack(deb, packages[i]!.name === kernelPackage ? kernelTree : tree);
    for (const sub of ["usr/share/doc", "usr/share/man", "usr/share/locale", "usr/share/lintian", "usr/share/bash-completion"])
      rmSync(join(tree, sub), { recursive: true, force: true });
    for (const sub of ["proc", "sys", "dev", "tmp", "mod", "batch", "lib"]) mkdirSync(join(tree, sub), { recursive: true });
    const modules = await kvmModules(join(kernelTree, "lib", "modules", kernel));
    for (const m of [...modules.required, ...modules.optional]) writeFileSync(join(tree, "mod", `${m.name}.ko`), m.data);
    writeFileSync(join(tree, "mod", "order"), `${modules.required.map((m) => m.name).join("\n")}\n`);
    writeFileSync(join(tree, "mod", "optional"), `${modules.optional.map((m) => m.name).join("\n")}\n`);
    writeFileSync(join(tree, "init"), INIT_SCRIPT, { mode: 0o755 });
    say("building the capability shim");
    const shim = await buildShim(tree);
    if (!shim) say(`${CROSS_GCC} not found: no capability shim (specs whose caps are not all four will be unsupported)`);
    const pruned = pruneTree(tree, shim ? [join(tree, SHIM_PATH)] : []);
    say(`left out what no program of L1 loads: ${pruned.files} files, ${(pruned.bytes / 1048576).toFixed(0)} MiB`);
    say("packing the initramfs");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "initramfs.cpio"), cpio(treeEntries(tree)));
    const vmlinux = join(kernelTree, "boot", `vmlinux-${kernel}`);
    if (!existsSync(vmlinux)) throw new SetupError(`${kernelPackage} has no boot/vmlinux-${kernel}`);
    renameSync(vmlinux, join(dir, "vmlinux"));
    const manifest: KvmImageManifest = {
      version: 1,
      kernel,
      qemu: packages.find((p) => p.name === "qemu-system-ppc")?.version ?? "unknown",
      packages,
      files: { vmlinux: fileRecord(join(dir, "vmlinux"), "vmlinux"), initramfs: fileRecord(join(dir, "initramfs.cpio"), "initramfs.cpio") },
      shim,
      ...(shim ? { shimSource: SHIM_KEY } : {}),
      built: new Date().toISOString(),
    };
    writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    // Older builds for the same kernel and QEMU are stale now: only the newest is ever booted.
    for (const old of listImages(root))
      if (old.dir !== dir && (!("manifest" in old) || (old.manifest.kernel === kernel && qemuVersionOf(old.manifest.qemu) === qemu)))
        rmSync(old.dir, { recursive: true, force: true });
    say(`built ${dir}`);
    return { dir, manifest, vmlinux: join(dir, "vmlinux"), initramfs: join(dir, "initramfs.cpio") };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What a batch adds to L1's initramfs at most, as the archive to boot is chosen (runL1 checks the real size). */
const BATCH_ROOM = 16 * 1024 * 1024;

/**
 * The initramfs L0 loads: the image's own, or, where L0 loads at most `limit` bytes and the image,
 * its overlays and a batch would not fit, the image's compressed (L1 boots faster on the plain one:
 * with the image pruned, 11.1 s vs 12.9 s on PowerNV).
 */
export async function initramfsToBoot(image: L1Image, limit: number | undefined, overlays: readonly string[] = []): Promise<string> {
  const bytes = [image.initramfs, ...overlays].reduce((sum, file) => sum + statSync(file).size, 0);
  return limit !== undefined && bytes + BATCH_ROOM > limit ? compressedInitramfs(image) : image.initramfs;
}

/**
 * The image's initramfs compressed (gzip, fastest level), for an L0 machine that loads little
 * (powernv9: 128 MiB): made once beside it, and again when the image's archive is newer.
 */
export async function compressedInitramfs(image: L1Image): Promise<string> {
  const gz = `${image.initramfs}.gz`;
  if (existsSync(gz) && statSync(gz).mtimeMs >= statSync(image.initramfs).mtimeMs) return gz;
  const { createReadStream, createWriteStream } = await import("node:fs");
  const { createGzip } = await import("node:zlib");
  const { pipeline } = await import("node:stream/promises");
  const partial = `${gz}.${process.pid}.part`;
  try {
    await pipeline(createReadStream(image.initramfs), createGzip({ level: 1 }), createWriteStream(partial));
    renameSync(partial, gz);
  } finally {
    rmSync(partial, { force: true });
  }
  return gz;
}
