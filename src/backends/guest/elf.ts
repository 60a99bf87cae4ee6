// A minimal big-endian ELF64 executable for PowerPC: one loadable segment, entry in it.
const EM_PPC64 = 21;
const PT_LOAD = 1;
const HEADER_SIZE = 64;
const PROGRAM_HEADER_SIZE = 56;
export const SEGMENT_FILE_OFFSET = 0x1000;

export function elf64(image: Uint8Array, loadAddress: bigint, entry: bigint): Uint8Array {
  const out = new Uint8Array(SEGMENT_FILE_OFFSET + image.length);
  const view = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, 2 /* 64-bit */, 2 /* big-endian */, 1 /* version */], 0);
  view.setUint16(16, 2); // ET_EXEC
  view.setUint16(18, EM_PPC64);
  view.setUint32(20, 1);
  view.setBigUint64(24, entry);
  view.setBigUint64(32, BigInt(HEADER_SIZE)); // e_phoff
  view.setBigUint64(40, 0n); // e_shoff
  view.setUint32(48, 2); // e_flags: ELFv2, so the entry is code rather than a function descriptor
  view.setUint16(52, HEADER_SIZE);
  view.setUint16(54, PROGRAM_HEADER_SIZE);
  view.setUint16(56, 1); // e_phnum
  view.setUint16(58, 64); // e_shentsize
  view.setUint16(60, 0);
  view.setUint16(62, 0);
  const ph = HEADER_SIZE;
  view.setUint32(ph, PT_LOAD);
  view.setUint32(ph + 4, 7); // RWX
  view.setBigUint64(ph + 8, BigInt(SEGMENT_FILE_OFFSET));
  view.setBigUint64(ph + 16, loadAddress);
  view.setBigUint64(ph + 24, loadAddress);
  view.setBigUint64(ph + 32, BigInt(image.length));
  view.setBigUint64(ph + 40, BigInt(image.length));
  view.setBigUint64(ph + 48, 0x1000n);
  out.set(image, SEGMENT_FILE_OFFSET);
  return out;
}
