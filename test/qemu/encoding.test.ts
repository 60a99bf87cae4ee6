// The guest program's machine code and ELF container, checked against known encodings.
import { describe, expect, it } from "vitest";
import { loadImmediate, ppc, SPR } from "../../src/backends/guest/ppc.js";
import { elf64, SEGMENT_FILE_OFFSET } from "../../src/backends/guest/elf.js";
import { buildGuest, linesOf } from "../../src/backends/guest/guest.js";

describe("PowerPC encodings", () => {
  it.each([
    ["mflr r0", ppc.mflr(0), 0x7c0802a6],
    ["mtlr r0", ppc.mtlr(0), 0x7c0803a6],
    ["blr", ppc.blr(), 0x4e800020],
    ["sc 1", ppc.hcall(), 0x44000022],
    ["nop", ppc.nop(), 0x60000000],
    ["li r3,0x58", ppc.li(3, 0x58), 0x38600058],
    ["mr r31,r3", ppc.mr(31, 3), 0x7c7f1b78],
    ["sldi r3,r3,32", ppc.sldi(3, 3, 32), 0x786307c6],
    ["lis r4,0x7100", ppc.lis(4, 0x7100), 0x3c807100],
    ["ori r3,r3,0xffff", ppc.ori(3, 3, 0xffff), 0x6063ffff],
    ["lwz r20,12(r22)", ppc.lwz(20, 12, 22), 0x8296000c],
    ["stw r23,0(r22)", ppc.stw(23, 0, 22), 0x92f60000],
    ["bl +4", ppc.b(4, true), 0x48000005],
    ["b .", ppc.b(0), 0x48000000],
    ["b -8", ppc.b(-8), 0x4bfffff8],
    // As GNU as (binutils 2.40, -mbig) assembles them:
    ["ld r11,8(r24)", ppc.ld(11, 8, 24), 0xe9780008],
    ["std r11,0(r24)", ppc.std(11, 0, 24), 0xf9780000],
    ["cmpd r11,r12", ppc.cmpd(11, 12), 0x7c2b6000],
    ["cmpdi r11,3", ppc.cmpdi(11, 3), 0x2c2b0003],
    ["bne .+12", ppc.bne(12), 0x4082000c],
    ["beq .-8", ppc.beq(-8), 0x4182fff8],
    ["bge .+12", ppc.bge(12), 0x4080000c],
    ["lbz r20,0(r27)", ppc.lbz(20, 0, 27), 0x8a9b0000],
    ["stb r11,0(r10)", ppc.stb(11, 0, 10), 0x996a0000],
    ["sync", ppc.sync(), 0x7c0004ac],
    ["mtsprg 0,r3", ppc.mtspr(SPR.SPRG0, 3), 0x7c7043a6],
    ["mfsprg r3,0", ppc.mfspr(3, SPR.SPRG0), 0x7c7042a6],
    ["mtdec r11", ppc.mtspr(SPR.DEC, 11), 0x7d7603a6],
    ["mfsrr1 r3", ppc.mfspr(3, SPR.SRR1), 0x7c7b02a6],
    ["mtsrr1 r3", ppc.mtspr(SPR.SRR1, 3), 0x7c7b03a6],
    ["rfid", ppc.rfid(), 0x4c000024],
    ["xori r11,r11,32768", ppc.xori(11, 11, 0x8000), 0x696b8000],
    ["mtmsrd r11,1", ppc.mtmsrdEE(11), 0x7d610164],
    ["dcbst 0,r10", ppc.dcbst(10), 0x7c00506c],
    ["icbi 0,r10", ppc.icbi(10), 0x7c0057ac],
    ["isync", ppc.isync(), 0x4c00012c],
  ])("%s", (_, word, expected) => {
    expect(word >>> 0).toBe(expected);
  });

  it("a 64-bit immediate takes five instructions", () => {
    expect(loadImmediate(3, 0x1234_5678_9abc_def0n)).toEqual([0x3c601234, 0x60635678, 0x786307c6, 0x64639abc, 0x6063def0]);
  });
});

describe("ELF64", () => {
  it("a big-endian PowerPC executable with one loadable segment", () => {
    const file = elf64(new Uint8Array([1, 2, 3, 4]), 0n, 0n);
    const view = new DataView(file.buffer);
    expect([...file.slice(0, 6)]).toEqual([0x7f, 0x45, 0x4c, 0x46, 2, 2]);
    expect(view.getUint16(18)).toBe(21);
    expect(view.getUint16(56)).toBe(1);
    expect(view.getBigUint64(64 + 8)).toBe(BigInt(SEGMENT_FILE_OFFSET));
    expect(view.getBigUint64(64 + 32)).toBe(4n);
    expect([...file.slice(SEGMENT_FILE_OFFSET)]).toEqual([1, 2, 3, 4]);
  });

  it("the guest carries each TCE list on its own page", () => {
    const calls = [
      { kind: "hcall" as const, opcode: 0x13cn, args: [0x80000000n, 0n, 0n, 2n], list: { tces: [0x1003n, 0x2003n], offsetInPage: 0n } },
    ];
    const file = Buffer.from(buildGuest(calls));
    const at = file.indexOf(Buffer.from("0000000000001003", "hex"));
    expect(at).toBeGreaterThan(SEGMENT_FILE_OFFSET);
    expect((at - SEGMENT_FILE_OFFSET) % 0x1000).toBe(0);
    expect(file.readBigUInt64BE(at + 8)).toBe(0x2003n);
    expect(linesOf({ kind: "rtas", token: 0x2026n, args: [], nret: 5 })).toBe(3);
  });
});
