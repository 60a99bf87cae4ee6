// A newc cpio archive (the initramfs format Linux unpacks), written from a directory tree or
// from files in memory. Archives may be concatenated: L1 gets its base image plus a batch.
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";

export interface CpioEntry {
  path: string;
  /** Full st_mode: type and permission bits. */
  mode: number;
  data: Buffer;
}

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;

export const dirEntry = (path: string): CpioEntry => ({ path, mode: S_IFDIR | 0o755, data: Buffer.alloc(0) });
export const fileEntry = (path: string, data: Buffer | string, executable = false): CpioEntry => ({
  path,
  mode: S_IFREG | (executable ? 0o755 : 0o644),
  data: Buffer.isBuffer(data) ? data : Buffer.from(data),
});

function header(entry: CpioEntry, ino: number): Buffer {
  const name = Buffer.from(`${entry.path}\0`);
  const fields = [ino, entry.mode, 0, 0, 1, 0, entry.data.length, 0, 0, 0, 0, name.length, 0];
  const text = `070701${fields.map((f) => f.toString(16).padStart(8, "0")).join("")}`;
  return Buffer.concat([Buffer.from(text), name, Buffer.alloc(pad(110 + name.length))]);
}

const pad = (length: number) => (4 - (length % 4)) % 4;

export function cpio(entries: Iterable<CpioEntry>): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  for (const entry of entries) {
    parts.push(header(entry, ino++), entry.data, Buffer.alloc(pad(entry.data.length)));
  }
  parts.push(header({ path: "TRAILER!!!", mode: 0, data: Buffer.alloc(0) }, 0));
  const archive = Buffer.concat(parts);
  return Buffer.concat([archive, Buffer.alloc((512 - (archive.length % 512)) % 512)]);
}

/** Every file, directory and symbolic link under root, parents before children, in a stable order. */
export function* treeEntries(root: string, prefix = ""): Generator<CpioEntry> {
  for (const name of readdirSync(join(root, prefix)).sort()) {
    const path = prefix ? `${prefix}/${name}` : name;
    const full = join(root, path);
    const stat = lstatSync(full);
    if (stat.isSymbolicLink()) yield { path, mode: S_IFLNK | 0o777, data: Buffer.from(readlinkSync(full)) };
    else if (stat.isDirectory()) {
      yield { path, mode: S_IFDIR | (stat.mode & 0o7777), data: Buffer.alloc(0) };
      yield* treeEntries(root, path);
    } else if (stat.isFile()) yield { path, mode: S_IFREG | (stat.mode & 0o7777), data: readFileSync(full) };
  }
}
