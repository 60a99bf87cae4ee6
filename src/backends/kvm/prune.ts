// L1's initramfs holds what Debian's qemu-system-ppc package pulls in: half of it is never run in
// L1 (the 32-bit system emulator, iconv's converters, QEMU's UI, audio and USB modules, and the
// libraries only those need). L1 reads every byte of its initramfs at boot, and a PowerNV L1 loads
// at most 128 MiB: what no program of the image can load goes.
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, readSync, realpathSync, rmSync, type Stats } from "node:fs";
import { dirname, join, relative } from "node:path";
import { elfDynamic } from "./elf.js";

const ARCH = "powerpc64le-linux-gnu";
/** Never run in L1: the 32-bit system emulator, iconv's converters, QEMU's loadable modules (display, audio, USB, UI). */
const UNUSED = ["usr/bin/qemu-system-ppc", `usr/lib/${ARCH}/gconv`, `usr/lib/${ARCH}/qemu`];
/** Where the loader looks for a needed library, in its order. */
const LIBRARY_DIRS = [`lib/${ARCH}`, `usr/lib/${ARCH}`, "lib", "usr/lib", "lib64"];
/** Loaded by name at run time, never through DT_NEEDED: the loader itself, NSS and PAM modules. */
const LOADED_BY_NAME = /(^|\/)(ld64\.so|ld-linux|libnss_)[^/]*$|\/security\//;

/** Every file and link below `dir` (links not followed), depth first. */
export function* walk(dir: string): Generator<{ path: string; stat: Stats }> {
  if (!existsSync(dir)) return;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = lstatSync(path);
    if (stat.isDirectory()) yield* walk(path);
    else yield { path, stat };
  }
}

const regularFiles = (dir: string) => [...walk(dir)].flatMap(({ path, stat }) => (stat.isFile() ? [path] : []));

/** Whether a file starts as an ELF file does (its first four bytes only). */
function startsElf(path: string): boolean {
  const head = Buffer.alloc(4);
  const fd = openSync(path, "r");
  try {
    return readSync(fd, head, 0, 4, 0) === 4 && head.equals(ELF_MAGIC);
  } finally {
    closeSync(fd);
  }
}
const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);

/**
 * Takes out of an unpacked image tree what none of its programs can load; `keep` are more ELF
 * files that must run (the capability shim). Returns what went.
 */
export function pruneTree(root: string, keep: readonly string[] = []): { files: number; bytes: number } {
  // Every path below is a real one, as the libraries found are.
  const tree = realpathSync(root);
  const kept = keep.map((k) => realpathSync(k));
  let gone = 0;
  let bytes = 0;
  const remove = (path: string) => {
    for (const file of lstatSync(path).isDirectory() ? regularFiles(path) : [path]) {
      bytes += lstatSync(file).size;
      gone++;
    }
    rmSync(path, { recursive: true, force: true });
  };
  for (const unused of UNUSED) if (existsSync(join(tree, unused))) remove(join(tree, unused));
  // A library (lib/, usr/lib/: a .so no one loads by name) stays only if something needs it; every
  // other ELF file (a program anywhere, the loader, NSS and PAM modules, `keep`) is a root.
  const elves = regularFiles(tree).filter(startsElf);
  const isLibrary = (path: string) => {
    const name = relative(tree, path);
    return /^(usr\/)?lib\//.test(name) && /\.so(\.|$)/.test(name) && !LOADED_BY_NAME.test(name) && !kept.includes(path);
  };
  const needed = new Set<string>();
  const todo = elves.filter((path) => !isLibrary(path));
  while (todo.length > 0) {
    const path = todo.pop()!;
    if (needed.has(path)) continue;
    needed.add(path);
    const dynamic = elfDynamic(readFileSync(path));
    // Its own search path first ($ORIGIN: its directory), then the loader's.
    const dirs = [...(dynamic?.runpath ?? []).map((d) => d.replace(/\$(ORIGIN|\{ORIGIN\})/g, `/${relative(tree, dirname(path))}`)), ...LIBRARY_DIRS];
    for (const name of dynamic?.needed ?? []) {
      const dir = dirs.find((d) => existsSync(join(tree, d, name)));
      if (dir) todo.push(realpathSync(join(tree, dir, name)));
    }
  }
  for (const path of elves) if (isLibrary(path) && !needed.has(path)) remove(path);
  // Links to what went.
  for (const { path, stat } of [...walk(join(tree, "lib")), ...walk(join(tree, "usr/lib"))]) if (stat.isSymbolicLink() && !existsSync(path)) rmSync(path);
  return { files: gone, bytes };
}
