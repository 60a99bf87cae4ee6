// The few 64-bit PowerPC instructions the guest program needs, encoded by hand (Power ISA 3.0,
// big-endian). No cross toolchain: the spec compiles straight to machine code.

export type Reg = number;

const u16 = (value: number) => value & 0xffff;

function dForm(opcode: number, rt: Reg, ra: Reg, immediate: number): number {
  return ((opcode << 26) | (rt << 21) | (ra << 16) | u16(immediate)) >>> 0;
}

function xForm(rs: Reg, ra: Reg, rb: Reg, xo: number, rc = 0): number {
  return ((31 << 26) | (rs << 21) | (ra << 16) | (rb << 11) | (xo << 1) | rc) >>> 0;
}

/** MD-form rotates: rldicl (xo 0) and rldicr (xo 1). */
function mdForm(rs: Reg, ra: Reg, sh: number, mask: number, xo: number): number {
  const maskField = ((mask & 0x1f) << 1) | (mask >> 5);
  return ((30 << 26) | (rs << 21) | (ra << 16) | ((sh & 0x1f) << 11) | (maskField << 5) | (xo << 2) | ((sh >> 5) << 1)) >>> 0;
}

/** An SPR number as mfspr and mtspr carry it: its two 5-bit halves swapped. */
const sprField = (spr: number) => ((spr & 0x1f) << 5) | (spr >> 5);

/** Special-purpose registers the guest uses. */
export const SPR = { SRR1: 27, DEC: 22, SPRG0: 272 } as const;

export const ppc = {
  addi: (rt: Reg, ra: Reg, simm: number) => dForm(14, rt, ra, simm),
  li: (rt: Reg, simm: number) => dForm(14, rt, 0, simm),
  lis: (rt: Reg, simm: number) => dForm(15, rt, 0, simm),
  ori: (ra: Reg, rs: Reg, uimm: number) => dForm(24, rs, ra, uimm),
  oris: (ra: Reg, rs: Reg, uimm: number) => dForm(25, rs, ra, uimm),
  andiDot: (ra: Reg, rs: Reg, uimm: number) => dForm(28, rs, ra, uimm),
  lwz: (rt: Reg, d: number, ra: Reg) => dForm(32, rt, ra, d),
  lbz: (rt: Reg, d: number, ra: Reg) => dForm(34, rt, ra, d),
  stb: (rs: Reg, d: number, ra: Reg) => dForm(38, rs, ra, d),
  stw: (rs: Reg, d: number, ra: Reg) => dForm(36, rs, ra, d),
  lbzx: (rt: Reg, ra: Reg, rb: Reg) => xForm(rt, ra, rb, 87),
  or: (ra: Reg, rs: Reg, rb: Reg) => xForm(rs, ra, rb, 444),
  add: (rt: Reg, ra: Reg, rb: Reg) => xForm(rt, ra, rb, 266),
  mr: (ra: Reg, rs: Reg) => xForm(rs, ra, rs, 444),
  extsw: (ra: Reg, rs: Reg) => xForm(rs, ra, 0, 986),
  sldi: (ra: Reg, rs: Reg, n: number) => mdForm(rs, ra, n, 63 - n, 1),
  rotldi: (ra: Reg, rs: Reg, n: number) => mdForm(rs, ra, n, 0, 0),
  xori: (ra: Reg, rs: Reg, uimm: number) => dForm(26, rs, ra, uimm),
  mfmsr: (rt: Reg) => ((31 << 26) | (rt << 21) | (83 << 1)) >>> 0,
  /** mtmsrd RS, 1: MSR[EE] and MSR[RI] only. */
  mtmsrdEE: (rs: Reg) => ((31 << 26) | (rs << 21) | (1 << 16) | (178 << 1)) >>> 0,
  mfspr: (rt: Reg, spr: number) => ((31 << 26) | (rt << 21) | (sprField(spr) << 11) | (339 << 1)) >>> 0,
  mtspr: (spr: number, rs: Reg) => ((31 << 26) | (rs << 21) | (sprField(spr) << 11) | (467 << 1)) >>> 0,
  /** Return from an interrupt: to SRR0, with SRR1 as the MSR. */
  rfid: () => 0x4c000024,
  /** Store a data cache block back to memory (RA 0), */
  dcbst: (rb: Reg) => xForm(0, 0, rb, 54),
  /** …drop an instruction cache block (RA 0), */
  icbi: (rb: Reg) => xForm(0, 0, rb, 982),
  /** …and refetch what follows. */
  isync: () => 0x4c00012c,
  /** mtmsrd RS, 0: the whole MSR. */
  mtmsrd: (rs: Reg) => ((31 << 26) | (rs << 21) | (178 << 1)) >>> 0,
  mflr: (rt: Reg) => ((31 << 26) | (rt << 21) | (8 << 16) | (339 << 1)) >>> 0,
  mtlr: (rs: Reg) => ((31 << 26) | (rs << 21) | (8 << 16) | (467 << 1)) >>> 0,
  ld: (rt: Reg, ds: number, ra: Reg) => ((58 << 26) | (rt << 21) | (ra << 16) | (ds & 0xfffc)) >>> 0,
  std: (rs: Reg, ds: number, ra: Reg) => ((62 << 26) | (rs << 21) | (ra << 16) | (ds & 0xfffc)) >>> 0,
  /** Compare doublewords into cr0. */
  cmpd: (ra: Reg, rb: Reg) => ((31 << 26) | (1 << 21) | (ra << 16) | (rb << 11)) >>> 0,
  cmpdi: (ra: Reg, simm: number) => dForm(11, 1, ra, simm),
  /** Branch if cr0 is not "equal", relative to this instruction (±32 KiB). */
  bne: (offset: number) => ((16 << 26) | (4 << 21) | (2 << 16) | (offset & 0xfffc)) >>> 0,
  beq: (offset: number) => ((16 << 26) | (12 << 21) | (2 << 16) | (offset & 0xfffc)) >>> 0,
  /** Branch if cr0 is not "less". */
  bge: (offset: number) => ((16 << 26) | (4 << 21) | (0 << 16) | (offset & 0xfffc)) >>> 0,
  /** Branch relative to this instruction, optionally linking. */
  b: (offset: number, link = false) => ((18 << 26) | (offset & 0x03fffffc) | (link ? 1 : 0)) >>> 0,
  blr: () => 0x4e800020,
  /** `sc 1`: a hypercall. */
  hcall: () => 0x44000022,
  nop: () => 0x60000000,
  /** Orders this processor's stores before a device's DMA, and its loads after it. */
  sync: () => 0x7c0004ac,
};

/** Load any 64-bit value: lis, ori, sldi 32, oris, ori. */
export function loadImmediate(rt: Reg, value: bigint): number[] {
  const v = BigInt.asUintN(64, value);
  const part = (shift: bigint) => Number((v >> shift) & 0xffffn);
  return [ppc.lis(rt, part(48n)), ppc.ori(rt, rt, part(32n)), ppc.sldi(rt, rt, 32), ppc.oris(rt, rt, part(16n)), ppc.ori(rt, rt, part(0n))];
}
