// What an ELF file says it needs to run: the shared libraries of its dynamic section (DT_NEEDED).
// Read from the program headers, as the dynamic loader reads them; 32- and 64-bit, either byte order.

const PT_LOAD = 1;
const PT_DYNAMIC = 2;
const DT_NULL = 0n;
const DT_NEEDED = 1n;
const DT_STRTAB = 5n;
const DT_RPATH = 15n;
const DT_RUNPATH = 29n;

/** An ELF file's dynamic section: the libraries it needs, and where it says to look for them first. */
export interface ElfDynamic {
  needed: string[];
  /** DT_RUNPATH (or the older DT_RPATH) directories, $ORIGIN unexpanded. */
  runpath: string[];
}

/** Whether the bytes start as an ELF file does. */
export function isElf(data: Buffer): boolean {
  return data.length >= 52 && data[0] === 0x7f && data[1] === 0x45 && data[2] === 0x4c && data[3] === 0x46;
}

/**
 * The DT_NEEDED names of an ELF file, in order: [] for a static program or one without a dynamic
 * section, undefined for what is not ELF or is cut short.
 */
export function elfNeeded(data: Buffer): string[] | undefined {
  return elfDynamic(data)?.needed;
}

/** What an ELF file's dynamic section asks of the loader; undefined for what is not ELF or is cut short. */
export function elfDynamic(data: Buffer): ElfDynamic | undefined {
  if (!isElf(data)) return undefined;
  const wide = data[4] === 2;
  const little = data[5] === 1;
  const u16 = (at: number) => (little ? data.readUInt16LE(at) : data.readUInt16BE(at));
  const u32 = (at: number) => (little ? data.readUInt32LE(at) : data.readUInt32BE(at));
  const word = (at: number): bigint => (wide ? (little ? data.readBigUInt64LE(at) : data.readBigUInt64BE(at)) : BigInt(u32(at)));
  try {
    const phoff = Number(word(wide ? 0x20 : 0x1c));
    const phentsize = u16(wide ? 0x36 : 0x2a);
    const phnum = u16(wide ? 0x38 : 0x2c);
    const loads: { vaddr: bigint; offset: bigint; size: bigint }[] = [];
    let dynamic: { offset: number; size: number } | undefined;
    for (let i = 0; i < phnum; i++) {
      const at = phoff + i * phentsize;
      const type = u32(at);
      // p_offset, p_vaddr, p_filesz: after p_flags in 64-bit headers, before it in 32-bit ones.
      const offset = word(wide ? at + 8 : at + 4);
      const vaddr = word(wide ? at + 16 : at + 8);
      const filesz = word(wide ? at + 32 : at + 16);
      if (type === PT_LOAD) loads.push({ vaddr, offset, size: filesz });
      else if (type === PT_DYNAMIC) dynamic = { offset: Number(offset), size: Number(filesz) };
    }
    if (!dynamic) return { needed: [], runpath: [] };
    const entry = wide ? 16 : 8;
    const needed: bigint[] = [];
    const paths: bigint[] = [];
    let strtab: bigint | undefined;
    for (let at = dynamic.offset; at + entry <= dynamic.offset + dynamic.size; at += entry) {
      const tag = word(at);
      const value = word(at + entry / 2);
      if (tag === DT_NULL) break;
      if (tag === DT_NEEDED) needed.push(value);
      else if (tag === DT_STRTAB) strtab = value;
      else if (tag === DT_RUNPATH || tag === DT_RPATH) paths.push(value);
    }
    if (needed.length === 0 && paths.length === 0) return { needed: [], runpath: [] };
    if (strtab === undefined) return undefined;
    // DT_STRTAB is an address: the loadable segment holding it says where it is in the file.
    const segment = loads.find((l) => strtab! >= l.vaddr && strtab! < l.vaddr + l.size);
    if (!segment) return undefined;
    const table = Number(strtab - segment.vaddr + segment.offset);
    const string = (offset: bigint) => {
      const start = table + Number(offset);
      const end = data.indexOf(0, start);
      if (end < 0) throw new RangeError("unterminated name");
      return data.toString("latin1", start, end);
    };
    return { needed: needed.map(string), runpath: paths.flatMap((p) => string(p).split(":")).filter(Boolean) };
  } catch {
    return undefined;
  }
}
