// Every error class is reported at its exact line and column, with the message users read.
import { describe, expect, it } from "vitest";
import { compileSource } from "../../src/compile/index.js";
import { formatDiagnostic } from "../../src/compile/diagnostics.js";

function errors(text: string): string[] {
  return compileSource("t.tce", text).diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`);
}

describe("syntax errors", () => {
  it.each([
    ["put_tce phb0 0x1000 == 3", "1:21: expected a TCE value after the IOBA, found '=='"],
    ["put_tce phb0", "1:13: expected an IOBA, found the end of the file"],
    ["put_tce phb0\nreset", "1:13: expected an IOBA, found the end of the line"],
    ["stuff_tce phb0 0 0x3 rw", "1:24: expected a count after the TCE, found the end of the file"],
    ["expect table(phb0) maybe", "1:20: expected 'kvm', 'userspace', 'absent' or 'size' after table(…), found 'maybe'"],
    ["machine qemu", "1:9: expected 'kvm' or 'tcg' after 'machine', found 'qemu'"],
    ["plug pci on phb0", "1:6: expected 'vfio' or 'emulated' after 'plug', found 'pci'"],
    ["expect get_tce phb0 0 = 3", "1:23: '=' is not a comparison: write '==' (or '!=')"],
    ["frobnicate phb0", "1:1: unknown statement 'frobnicate'"],
    ["expect hw(phb0) stale", "1:17: expected 'in_sync', 'out_of_sync', 'absent', '==' or '!=' after hw(…), found 'stale'"],
    ["phb phb0 index 0 ddw maybe", "1:22: expected 'on' or 'off' after 'ddw', found 'maybe'"],
    ["reset reset", "1:7: expected ';' or a new line before 'reset'"],
    ['spec "x" { reset', "1:17: expected '}' to close the spec of line 1, found the end of the file"],
    ["put_tce phb0 0x1g 0", "1:14: '0x1g' is not a number: 'g' is not a hexadecimal digit"],
  ])("%s", (text, expected) => {
    expect(errors(text)[0]).toBe(expected);
  });

  it("several errors in one file, each on its line", () => {
    expect(errors("reset\nput_tce phb0 == 1\nreset\nmachine qemu\nreset")).toEqual([
      "2:14: expected an IOBA, found '=='",
      "4:9: expected 'kvm' or 'tcg' after 'machine', found 'qemu'",
    ]);
  });

  it("a file with twelve mistakes of both kinds gets twelve errors in one pass, in file order, each caret on its word", () => {
    const text = [
      "setup {",
      "  machine kvm caps spapr_tcx", // 2: unknown capability
      "  phb phb0 index 0",
      "}",
      'spec "twelve" {',
      "  put_tce phb0 == 1", // 6: syntax
      "  put_tce phb9 0 0", // 7: unknown PHB
      "  expect get_tce phb0 0 = 3", // 8: syntax
      "  unplug dev1", // 9: unknown device, at its name
      "  expect table(phb0) maybe", // 10: syntax
      "  phb phb1 index 0x", // 11: syntax (and phb1 is not declared: no error follows from it)
      "  put_tce phb1 0 0",
      "  expect get_tce phb0 0 == 0 when profile qemu-9", // 13: unknown profile
      "  put_tc phb0 0 0", // 14: unknown statement
      "  plug vfio d0 on phb7", // 15: unknown PHB
      "  expect host fine", // 16: host state
      "  expect get_tce phb0 0x2O00 == 0", // 17: bad number
      "}",
    ].join("\n");
    expect(errors(text)).toEqual([
      "2:20: unknown capability 'spapr_tcx' — did you mean 'spapr_tce'?",
      "6:16: expected an IOBA, found '=='",
      "7:11: unknown PHB 'phb9' — did you mean 'phb0'?",
      "8:25: '=' is not a comparison: write '==' (or '!=')",
      "9:10: unknown device 'dev1'",
      "10:22: expected 'kvm', 'userspace', 'absent' or 'size' after table(…), found 'maybe'",
      "11:18: '0x' needs hexadecimal digits after it",
      "13:43: unknown profile 'qemu-9' (profiles: pre-fix, seed-v10, qemu-2.7, qemu-7.2, qemu-10.0)",
      "14:3: unknown statement 'put_tc' — did you mean 'put_tce'?",
      "15:19: unknown PHB 'phb7' — did you mean 'phb0'?",
      "16:15: 'host' takes 'ok', 'warned' or 'crashed', not 'fine'",
      "17:23: '0x2O00' is not a number: 'O' is not a hexadecimal digit",
    ]);
  });

  it("the host's states, and `at exit` only last", () => {
    expect(errors("expect host ok\nexpect host warned\nexpect host crashed\nexpect host warned at exit\nexpect host ok at exit")).toEqual([]);
    expect(errors("expect host fine")).toEqual(["1:13: 'host' takes 'ok', 'warned' or 'crashed', not 'fine'"]);
    expect(errors("expect host ok at exot")).toEqual(["1:19: 'at' after the host's state takes 'exit', not 'exot'"]);
    expect(errors("expect host ok at exit\nreset")).toEqual([
      "2:1: only 'expect host … at exit' may follow 'expect host … at exit': it reads the host once the machine's QEMU has exited",
    ]);
    // `host` and `exit` stay names: a device may still be called either.
    expect(errors("plug emulated exit on phb0\nexpect host ok at exit")).toEqual([]);
  });

  it("an unterminated string", () => {
    expect(errors('suite "abc\nreset')).toEqual(["1:7: the string is not closed: end it with '\"' on the same line"]);
  });
});

describe("one mistake, one error that names it", () => {
  it.each([
    ["put_tc phb0 0x2000 0x1003", ["1:1: unknown statement 'put_tc' — did you mean 'put_tce'?"]],
    ['spec "s" {\n  expct table(phb0) kvm\n}', ["2:3: unknown statement 'expct' — did you mean 'expect'?"]],
    ['specc "s" { reset }', ["1:1: unknown statement 'specc' — did you mean 'spec'?"]],
    ["expect get_tce phb0 0x2000 == 0x5550000 rx", ["1:41: unexpected 'rx' after the statement — did you mean 'rw' or 'r'?"]],
    ["expect table(phb0) usrspace", ["1:20: expected 'kvm', 'userspace', 'absent' or 'size' after table(…), found 'usrspace' — did you mean 'userspace'?"]],
    ["phb phb0 indx 0", ["1:10: expected 'index', found 'indx' — did you mean 'index'?"]],
    ["put_tce phb0 0x2O00 0x1003", ["1:14: '0x2O00' is not a number: 'O' is not a hexadecimal digit"]],
    ["create_window phb0 page 64KiB size 1G", ["1:25: '64KiB' is not a size: the suffix is one upper-case letter, as in 64K"]],
    ["create_window phb0 page 64k size 1G", ["1:25: '64k' is not a size: the suffix is one upper-case letter, as in 64K"]],
    ["expect windows(phb0) = 1", ["1:22: '=' is not a comparison: write '==' (or '!=')"]],
    ['spec "abc {\n  reset\n}', ["1:6: the string is not closed: end it with '\"' on the same line"]],
    ['spec "a\\n" { reset }', ["1:6: '\\n' in a string: the only escapes are \\\" and \\\\"]],
    ['spec "a" tags x!, y { reset }', ["1:16: unexpected character '!'"]],
    ['spec "a" {\n  reset\nspec "b" { reset }', ["3:1: expected '}' to close the spec of line 1 before 'spec'"]],
    ['spec "a" { reset }\n}', ["2:1: unexpected '}': no block is open here"]],
    ['spec "a"\n  reset\n}', ["2:3: expected '{' after the spec's name and tags, found 'reset'"]],
    ["machine kvm caps spapr_tce_6", ["1:18: unknown capability 'spapr_tce_6' — did you mean 'spapr_tce_64'?"]],
    ['spec "s" profiles qemu-7.3 { reset }', ["1:19: unknown profile 'qemu-7.3' — did you mean 'qemu-7.2'?"]],
    ["phb phb0 index 0\nput_tce phb1 0 0x3", ["2:9: unknown PHB 'phb1' — did you mean 'phb0'?"]],
    ["plug vfio dev0 on phb0\nunplug dev1", ["2:8: unknown device 'dev1' — did you mean 'dev0'?"]],
  ])("%s", (text, expected) => {
    expect(errors(text)).toEqual(expected);
  });

  it("the rest of the file is still checked after an error", () => {
    expect(errors('spec "a" {\n  put_tc phb0 0 0\n  reset\n  expect windows(phb0) = 1\n}\nspec "b" { migrat }')).toEqual([
      "2:3: unknown statement 'put_tc' — did you mean 'put_tce'?",
      "4:24: '=' is not a comparison: write '==' (or '!=')",
      "6:12: unknown statement 'migrat' — did you mean 'migrate'?",
    ]);
  });
});

describe("numbers", () => {
  it("a literal over 2^64-1 is rejected", () => {
    expect(errors("put_tce phb0 0x1_0000_0000_0000_0000 0")).toEqual(["1:14: the number 0x1_0000_0000_0000_0000 does not fit in 64 bits"]);
    expect(errors("put_tce phb0 18446744073709551616 0")).toEqual(["1:14: the number 18446744073709551616 does not fit in 64 bits"]);
    expect(errors("put_tce phb0 16384P 0")).toEqual(["1:14: the number 16384P does not fit in 64 bits"]);
    expect(errors("put_tce phb0 18446744073709551615 0")).toEqual([]);
  });
});

describe("semantic errors", () => {
  it.each([
    ["phb phb0 index 0\nexpect table(phb9) kvm", "2:14: unknown PHB 'phb9' — did you mean 'phb0'?"],
    ["phb phb0 index 0\nexpect table(zzz) kvm", "2:14: unknown PHB 'zzz' (declared: phb0)"],
    ["expect table(phb1) kvm", "1:14: unknown PHB 'phb1' — did you mean 'phb0'?"],
    ["phb a index 0\nphb a index 1", "2:1: a second PHB named 'a'"],
    ["phb a index 0\nphb b index 0", "2:13: PHB index 0 is already taken by 'a'"],
    ["phb a index 31", "1:13: a PHB index is at most 30, not 31"],
    ["reset\nmachine tcg", "2:1: 'machine' must come first in a spec (a setup block counts as its start)"],
    ["machine tcg\nmachine tcg", "2:1: 'machine' appears twice: a spec has one machine"],
    ["machine kvm ram 384M", "1:17: guest RAM of 384M: pseries RAM is a whole number of 256M blocks"],
    ["machine tcg ram 0", "1:17: guest RAM of 0: pseries RAM is a whole number of 256M blocks"],
    [
      "machine kvm caps spapr_tce, warp_drive",
      "1:29: unknown capability 'warp_drive' (capabilities: spapr_tce, spapr_tce_64, spapr_tce_vfio, multi_tce)",
    ],
    ['spec "s" profiles qemu-9.0 { reset }', "1:19: unknown profile 'qemu-9.0' — did you mean 'qemu-2.7', 'qemu-7.2' or 'qemu-10.0'?"],
    ['spec "s" profiles linux { reset }', "1:19: unknown profile 'linux' (profiles: pre-fix, seed-v10, qemu-2.7, qemu-7.2, qemu-10.0)"],
    ["expect migrate == ok when profile qemu-1.0", "1:35: unknown profile 'qemu-1.0' — did you mean 'qemu-10.0'?"],
    ["phb p index 0 dma32 0", "1:21: a DMA window of size 0"],
    ["remove_window 0x180000000", "1:15: the LIOBN 0x180000000 does not fit RTAS's 32-bit argument cell"],
    ["phb p index 0 page 3000", "1:20: the page size 3000 is not a power of two"],
    ["create_window phb0 page 12K size 1G", "1:25: the page size 12K is not a power of two"],
    ["create_window phb0 page 4K size 0", "1:33: a DMA window of size 0"],
    ["create_window phb0 page 4K size 3G", "1:33: the window size 3G is not a power of two (RTAS takes its log2)"],
    ["expect table(phb0) size 1G page 5K", "1:33: the page size 5K is not a power of two"],
    ["put_tce phb0[2] 0 0", "1:14: a PHB has DMA windows 0 and 1, not 2"],
    ["unplug dev0", "1:8: unknown device 'dev0'"],
    ["plug vfio d on phb0\nunplug d\nunplug d", "3:8: device 'd' was unplugged before this line"],
    ["plug vfio d on phb0\nplug vfio d on phb0", "2:1: a device named 'd' is already plugged"],
    ["expect dma net0 read 0 == fault", "1:12: unknown device 'net0'"],
    ["expect put_tce phb0 0 0 == RTAS_OK", "1:28: put_tce answers a return code (H_…)"],
    ["expect get_tce phb0 0 == H_NONSENSE", "1:26: unknown return code 'H_NONSENSE'"],
    ["expect create_window phb0 page 4K size 1G == H_PARAMETER", "1:46: create_window answers an RTAS status (RTAS_…) or a TCE value"],
    ["expect migrate == fault", "1:19: migrate answers 'ok' or 'blocked'"],
    ["expect windows(phb0) == 0x1000 rw", "1:25: windows(PHB) answers a number"],
    ["expect reset == ok", "1:8: 'reset' answers nothing to compare; write it as a bare statement"],
    ['spec "a" { reset }\nspec "a" { reset }', '2:1: a second spec named "a" in this file'],
    ['reset\nspec "a" { reset }', "1:1: a statement outside a spec block: put it in 'setup { … }' or in a spec"],
    ['suite "a"\nsuite "b"', "2:1: a file has one 'suite' name"],
  ])("%s", (text, expected) => {
    expect(errors(text)).toContain(expected);
  });

  it("setup errors are reported once, not once per spec", () => {
    const text = 'setup { phb p index 0 page 3000 }\nspec "a" { reset }\nspec "b" { reset }';
    expect(errors(text)).toEqual(["1:28: the page size 3000 is not a power of two"]);
  });

  it("a spec without PHBs has QEMU's default phb0, from the setup on", () => {
    expect(errors("put_tce phb0 0 0x3\nexpect table(phb0) userspace")).toEqual([]);
    expect(errors('setup { plug vfio d on phb0 }\nspec "a" { expect vfio(phb0) yes }')).toEqual([]);
  });
});

describe("formatting", () => {
  it("path:line:col: message, the source line and a caret", () => {
    const result = compileSource("specs/x.tce", "reset\n\tput_tce phb0 0x1000 == 3\n");
    expect(formatDiagnostic(result.diagnostics[0]!, result.source)).toBe(
      "specs/x.tce:2:22: expected a TCE value after the IOBA, found '=='\n  \tput_tce phb0 0x1000 == 3\n  \t                    ^",
    );
  });

  it("a 1 MB line is shown as a window around the column", () => {
    const text = `${"reset;".repeat(200_000)} put_tce`;
    const result = compileSource("big.tce", text);
    const shown = formatDiagnostic(result.diagnostics[0]!, result.source).split("\n");
    expect(shown[0]).toMatch(/^big\.tce:1:1200009: expected a table/);
    expect(shown[1]!.length).toBeLessThanOrEqual(102);
    expect(shown[2]!.indexOf("^") - 2).toBe(shown[1]!.indexOf("put_tce") - 2 + 7);
  });
});
