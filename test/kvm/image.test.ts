// L1's image holds only what its programs can load (src/backends/kvm/prune.ts): the DT_NEEDED
// reader on ELF files of each class and byte order, the pruning of a tree, and the built image
// itself (every library any of its programs needs is in it, and it fits a PowerNV L1's initrd).
import { describe, expect, it } from "vitest";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { elfDynamic, elfNeeded } from "../../src/backends/kvm/elf.js";
import { pruneTree } from "../../src/backends/kvm/prune.js";
import { findImage, rebuildFor } from "../../src/backends/kvm/image.js";
import { POWERNV } from "../../src/backends/kvm/hosts.js";

/** A minimal dynamic ELF file: one PT_LOAD at `base` holding the string table, one PT_DYNAMIC. */
function elf(needed: string[], wide = true, little = true, base = 0x10000n, runpath?: string): Buffer {
  const ehsize = wide ? 64 : 52;
  const phentsize = wide ? 56 : 32;
  const dynentry = wide ? 16 : 8;
  const names = [...needed, ...(runpath ? [runpath] : [])];
  const strings = Buffer.concat([Buffer.from([0]), ...names.map((n) => Buffer.from(`${n}\0`, "latin1"))]);
  const phoff = ehsize;
  const dynoff = phoff + 2 * phentsize;
  const dynsize = (names.length + 2) * dynentry;
  const stroff = dynoff + dynsize;
  const out = Buffer.alloc(stroff + strings.length);
  const u16 = (at: number, v: number) => (little ? out.writeUInt16LE(v, at) : out.writeUInt16BE(v, at));
  const u32 = (at: number, v: number) => (little ? out.writeUInt32LE(v, at) : out.writeUInt32BE(v, at));
  const word = (at: number, v: bigint) => (wide ? (little ? out.writeBigUInt64LE(v, at) : out.writeBigUInt64BE(v, at)) : u32(at, Number(v)));
  out.set([0x7f, 0x45, 0x4c, 0x46, wide ? 2 : 1, little ? 1 : 2, 1], 0);
  word(wide ? 0x20 : 0x1c, BigInt(phoff));
  u16(wide ? 0x36 : 0x2a, phentsize);
  u16(wide ? 0x38 : 0x2c, 2);
  const header = (at: number, type: number, offset: number, vaddr: bigint, size: number) => {
    u32(at, type);
    word(wide ? at + 8 : at + 4, BigInt(offset));
    word(wide ? at + 16 : at + 8, vaddr);
    word(wide ? at + 32 : at + 16, BigInt(size));
  };
  header(phoff, 1, 0, base, out.length);
  header(phoff + phentsize, 2, dynoff, base + BigInt(dynoff), dynsize);
  let at = dynoff;
  let name = 1;
  for (const n of names) {
    word(at, n === runpath ? 29n : 1n);
    word(at + dynentry / 2, BigInt(name));
    name += n.length + 1;
    at += dynentry;
  }
  word(at, 5n);
  word(at + dynentry / 2, base + BigInt(stroff));
  strings.copy(out, stroff);
  return out;
}

describe("the DT_NEEDED reader", () => {
  it.each([
    [64, "little"],
    [64, "big"],
    [32, "little"],
    [32, "big"],
  ])("reads the needed libraries of a %i-bit %s-endian ELF file, through the address of its string table", (bits, order) => {
    expect(elfNeeded(elf(["libglib-2.0.so.0", "libc.so.6"], bits === 64, order === "little"))).toEqual(["libglib-2.0.so.0", "libc.so.6"]);
  });

  it("reads where a file says its libraries are (DT_RUNPATH)", () => {
    expect(elfDynamic(elf(["libdebconf.so", "libc.so.6"], true, true, 0x10000n, "/usr/lib/cdebconf:$ORIGIN/../lib"))).toEqual({
      needed: ["libdebconf.so", "libc.so.6"],
      runpath: ["/usr/lib/cdebconf", "$ORIGIN/../lib"],
    });
  });

  it("reads a real program: this Node.js needs the C library", () => {
    const needed = elfNeeded(readFileSync(process.execPath));
    if (needed === undefined || needed.length === 0) return; // a static or non-ELF build of Node
    expect(needed.some((n) => n.startsWith("libc.so") || n.startsWith("libc.musl"))).toBe(true);
  });

  it("answers [] for a program that needs nothing, and nothing for what is not ELF or is cut short", () => {
    expect(elfNeeded(elf([]))).toEqual([]);
    expect(elfNeeded(Buffer.from("#!/bin/sh\necho not elf\n".repeat(4)))).toBeUndefined();
    const whole = elf(["libc.so.6"]);
    expect(elfNeeded(whole.subarray(0, whole.length - 6))).toBeUndefined();
    // A string table at an address no segment holds.
    const moved = elf(["libc.so.6"]);
    moved.writeBigUInt64LE(0x999999n, 64 + 2 * 56 + 16 + 8);
    expect(elfNeeded(moved)).toBeUndefined();
  });
});

describe("pruning L1's tree", () => {
  const ARCH = "powerpc64le-linux-gnu";
  function tree(): string {
    const root = mkdtempSync(join(tmpdir(), "tcespec-prune-"));
    const put = (path: string, data: Buffer | string) => {
      mkdirSync(dirname(join(root, path)), { recursive: true });
      writeFileSync(join(root, path), data);
    };
    put("usr/bin/qemu-system-ppc64", elf(["libglib-2.0.so.0", "libc.so.6"]));
    put("usr/bin/qemu-system-ppc", elf(["libcapstone.so.4", "libc.so.6"]));
    put("bin/busybox", elf([]));
    put("init", "#!/bin/busybox sh\n");
    put(`usr/lib/${ARCH}/libglib-2.0.so.0.7400.6`, elf(["libpcre2-8.so.0", "libc.so.6"]));
    symlinkSync("libglib-2.0.so.0.7400.6", join(root, `usr/lib/${ARCH}/libglib-2.0.so.0`));
    put(`usr/lib/${ARCH}/libpcre2-8.so.0`, elf(["libc.so.6"]));
    put(`lib/${ARCH}/libc.so.6`, elf(["ld64.so.2"]));
    put(`lib/${ARCH}/ld64.so.2`, elf([]));
    put(`lib/${ARCH}/libnss_files.so.2`, elf(["libc.so.6"]));
    put(`lib/${ARCH}/libdl.so.2`, elf(["libc.so.6"]));
    put(`usr/lib/${ARCH}/libcapstone.so.4`, elf(["libc.so.6"]));
    put(`usr/lib/${ARCH}/libgstreamer-1.0.so.0.2200.0`, elf(["libglib-2.0.so.0"]));
    symlinkSync("libgstreamer-1.0.so.0.2200.0", join(root, `usr/lib/${ARCH}/libgstreamer-1.0.so.0`));
    put(`usr/lib/${ARCH}/gconv/UTF-16.so`, elf(["libc.so.6"]));
    put(`usr/lib/${ARCH}/qemu/ui-curses.so`, elf(["libncursesw.so.6"]));
    put("usr/share/qemu/slof.bin", "firmware");
    put("usr/lib/cdebconf/debconf", elf(["libdebconf.so", "libc.so.6"], true, true, 0x10000n, "/usr/lib/cdebconf"));
    put("usr/lib/cdebconf/libdebconf.so", elf(["libc.so.6"]));
    put("usr/lib/tool/bin/helper", elf(["libhelper.so.1"], true, true, 0x10000n, "$ORIGIN/../lib"));
    put("usr/lib/tool/lib/libhelper.so.1", elf(["libc.so.6"]));
    put("lib/tcespec-caps.so", elf(["libdl.so.2", "libc.so.6"]));
    return root;
  }

  it("keeps every program and what it needs, the loader, NSS modules and the shim; drops the rest and the links to it", () => {
    const root = tree();
    try {
      const gone = pruneTree(root, [join(root, "lib/tcespec-caps.so")]);
      const has = (path: string) => existsSync(join(root, path)) || (lstatSync(join(root, path), { throwIfNoEntry: false })?.isSymbolicLink() ?? false);
      for (const kept of [
        "usr/bin/qemu-system-ppc64",
        "bin/busybox",
        "init",
        `usr/lib/${ARCH}/libglib-2.0.so.0`,
        `usr/lib/${ARCH}/libglib-2.0.so.0.7400.6`,
        `usr/lib/${ARCH}/libpcre2-8.so.0`,
        `lib/${ARCH}/libc.so.6`,
        `lib/${ARCH}/ld64.so.2`,
        `lib/${ARCH}/libnss_files.so.2`,
        `lib/${ARCH}/libdl.so.2`,
        "lib/tcespec-caps.so",
        "usr/share/qemu/slof.bin",
        "usr/lib/cdebconf/libdebconf.so",
        "usr/lib/tool/lib/libhelper.so.1",
      ])
        expect(has(kept), kept).toBe(true);
      for (const dropped of [
        "usr/bin/qemu-system-ppc",
        `usr/lib/${ARCH}/libcapstone.so.4`,
        `usr/lib/${ARCH}/libgstreamer-1.0.so.0.2200.0`,
        `usr/lib/${ARCH}/libgstreamer-1.0.so.0`,
        `usr/lib/${ARCH}/gconv`,
        `usr/lib/${ARCH}/qemu`,
      ])
        expect(has(dropped), dropped).toBe(false);
      expect(gone.files).toBe(5);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("without the shim in `keep`, what only the shim needs goes", () => {
    const root = tree();
    try {
      pruneTree(root);
      expect(existsSync(join(root, `lib/${ARCH}/libdl.so.2`))).toBe(false);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

/** The files of a newc archive: path → data (regular files), or the link's target. */
function readCpio(archive: Buffer): Map<string, { data: Buffer; link?: string }> {
  const files = new Map<string, { data: Buffer; link?: string }>();
  let at = 0;
  while (at + 110 <= archive.length && archive.toString("latin1", at, at + 6) === "070701") {
    const field = (i: number) => parseInt(archive.toString("latin1", at + 6 + i * 8, at + 14 + i * 8), 16);
    const mode = field(1);
    const size = field(6);
    const nameSize = field(11);
    const name = archive.toString("latin1", at + 110, at + 110 + nameSize - 1);
    if (name === "TRAILER!!!") break;
    const start = (at + 110 + nameSize + 3) & ~3;
    const data = archive.subarray(start, start + size);
    if ((mode & 0o170000) === 0o120000) files.set(name, { data, link: data.toString("latin1") });
    else if ((mode & 0o170000) === 0o100000) files.set(name, { data });
    at = (start + size + 3) & ~3;
  }
  return files;
}

const image = findImage();
describe("an image already built for the same packages", () => {
  const manifest = (shim: boolean) => ({ version: 1, kernel: "k", qemu: "q", packages: [], files: {}, shim, built: "" }) as unknown as Parameters<typeof rebuildFor>[0];
  it("is made again when it has no shim and the cross compiler is here now (found by setting up before installing it)", () => {
    expect(rebuildFor(manifest(false), true)).toMatch(/building the image again, with the capability shim/);
  });
  it("is kept when it has the shim, or when there is still no compiler to make one", () => {
    expect(rebuildFor(manifest(true), true)).toBeUndefined();
    expect(rebuildFor(manifest(false), false)).toBeUndefined();
  });
});

describe.runIf("manifest" in image)("the built L1 image", () => {
  it("holds every library each of its ELF files needs, and fits a PowerNV L1's initrd without compression", () => {
    if (!("manifest" in image)) return;
    const archive = readFileSync(image.initramfs);
    expect(archive.length).toBeLessThan(POWERNV.initrdLimit!);
    const files = readCpio(archive);
    const names = new Set([...files.keys()].map((p) => p.split("/").pop()!));
    const missing: string[] = [];
    let elves = 0;
    for (const [path, file] of files) {
      if (file.link) continue;
      const needed = elfNeeded(file.data);
      if (needed === undefined) continue;
      elves++;
      for (const name of needed) if (!names.has(name)) missing.push(`${path} needs ${name}`);
    }
    expect(missing).toEqual([]);
    expect(elves).toBeGreaterThan(40);
    expect(files.has("usr/bin/qemu-system-ppc64")).toBe(true);
    expect(files.has("usr/bin/qemu-system-ppc")).toBe(false);
  });
});
