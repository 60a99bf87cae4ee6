// Bad input never crashes the front end and never hangs it; every diagnostic has a real position.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { compileSource } from "../../src/compile/index.js";
import { formatDiagnostic } from "../../src/compile/diagnostics.js";
import { hostileInputs } from "../../bench/generate.js";

function check(text: string) {
  const result = compileSource("fuzz.tce", text);
  const lines = result.source.split(/\r\n|\r|\n/).length;
  for (const d of result.diagnostics) {
    expect(Number.isInteger(d.line) && d.line >= 1 && d.line <= lines, `line ${d.line} of ${lines}`).toBe(true);
    expect(Number.isInteger(d.column) && d.column >= 1, `column ${d.column}`).toBe(true);
    expect(d.message.length).toBeGreaterThan(0);
    expect(d.message).not.toMatch(/\n/);
    formatDiagnostic(d, result.source);
  }
  return result;
}

describe("hostile input", () => {
  it("a NUL byte is an unexpected character", () => {
    expect(check("reset\u0000\nreset").diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`)).toEqual([
      "1:6: unexpected character '\\x00'",
    ]);
  });

  it("a byte-order mark is skipped", () => {
    expect(check("\ufeffreset").diagnostics).toEqual([]);
  });

  it("CRLF and lone CR line ends", () => {
    expect(check("machine tcg\r\nreset\rreset\r\n").diagnostics).toEqual([]);
    expect(check("reset\r\nput_tce phb0\r\n").diagnostics.map((d) => `${d.line}:${d.column}`)).toEqual(["2:13"]);
  });

  it("10,000 nested parentheses are rejected (within the test's own time limit)", () => {
    const result = check(`expect table${"(".repeat(10_000)}phb0${")".repeat(10_000)} kvm`);
    expect(result.diagnostics.length).toBeGreaterThan(0);
  });

  it("a 1 MB line of junk gives a bounded number of diagnostics", () => {
    const result = check("@".repeat(1 << 20));
    expect(result.diagnostics.length).toBeGreaterThan(0);
    expect(result.diagnostics.length).toBeLessThanOrEqual(51);
  });

  it("a 1 MB line of statements is handled", () => {
    expect(check("reset;".repeat(180_000)).diagnostics).toEqual([]);
  });

  it.each(hostileInputs().map((input) => [input.name, input.text]))("64 KB of %s: bounded, positioned errors", (_, text) => {
    const result = check(text);
    expect(result.diagnostics.length).toBeGreaterThan(0);
    expect(result.diagnostics.length).toBeLessThanOrEqual(51);
  });

  it("invalid UTF-16 and control characters", () => {
    check("reset \ud800 \u0007 \u001b[31m");
  });
});

const WORDS = [
  "machine",
  "kvm",
  "tcg",
  "caps",
  "spapr_tce",
  "phb",
  "phb0",
  "index",
  "0",
  "1",
  "dma32",
  "page",
  "ddw",
  "on",
  "off",
  "plug",
  "vfio",
  "emulated",
  "unplug",
  "dev0",
  "put_tce",
  "get_tce",
  "stuff_tce",
  "put_tce_indirect",
  "create_window",
  "remove_window",
  "reset_windows",
  "query_window",
  "size",
  "dma",
  "read",
  "write",
  "reset",
  "migrate",
  "expect",
  "table",
  "userspace",
  "absent",
  "offset",
  "guest",
  "hw",
  "in_sync",
  "yes",
  "no",
  "windows",
  "notifiers",
  "ok",
  "blocked",
  "fault",
  "when",
  "profile",
  "xfail",
  "r",
  "w",
  "rw",
  "none",
  "0x1000",
  "0x12340000",
  "64K",
  "1T",
  "0xffffffffffffffffff",
  "H_SUCCESS",
  "RTAS_OK",
  "H_P2",
  "qemu-7.2",
  "pre-fix",
  "(",
  ")",
  "[",
  "]",
  "{",
  "}",
  ",",
  "==",
  "!=",
  ";",
  "\n",
  '"str"',
  '"',
  "#c\n",
  "spec",
  "setup",
  "suite",
  "tags",
  "profiles",
  "phb0[1]",
  "0x80000000",
  "@",
  "\u0000",
  "\r\n",
];

const VALID = [
  "machine kvm caps spapr_tce\nphb phb0 index 0\nput_tce phb0 0x1000 0x12340000 rw\nexpect table(phb0) kvm\nplug vfio dev0 on phb0\nexpect table(phb0) userspace\nexpect hw(phb0, 0x1000) == 0x12340003",
  'suite "s"\nsetup {\n  machine tcg\n}\nspec "a" tags x profiles qemu-7.2 {\n  expect create_window phb0 page 64K size 1T == 0x80000001\n  expect windows(phb0) == 2 when profile qemu-7.2 xfail "r"\n}',
];

describe("property: the front end never throws", () => {
  it("on 5,000 random token sequences", () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...WORDS), { maxLength: 40 }),
        fc.array(fc.constantFrom(" ", "\n", ";", ""), { maxLength: 40 }),
        (words, gaps) => {
          check(words.map((w, i) => w + (gaps[i] ?? " ")).join(""));
        },
      ),
      { numRuns: 5_000 },
    );
  });

  it("on 5,000 mutations of valid specs", () => {
    const mutation = fc.record({
      base: fc.constantFrom(...VALID),
      edits: fc.array(
        fc.record({ at: fc.nat(), cut: fc.nat({ max: 8 }), insert: fc.oneof(fc.constantFrom(...WORDS), fc.string({ maxLength: 4 })) }),
        { maxLength: 6 },
      ),
    });
    fc.assert(
      fc.property(mutation, ({ base, edits }) => {
        let text = base;
        for (const edit of edits) {
          const at = edit.at % (text.length + 1);
          text = text.slice(0, at) + edit.insert + text.slice(at + edit.cut);
        }
        check(text);
      }),
      { numRuns: 5_000 },
    );
  });

  it("on 1,000 arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => void check(text)),
      { numRuns: 1_000 },
    );
  });
});

describe("big files are read in chunks", () => {
  it("positions stay exact across chunks, inside and outside blocks", () => {
    const lines = ["machine tcg"];
    for (let i = 0; i < 4000; i++) lines.push(`put_tce phb0 0x${(i * 4096).toString(16)} 0x3 # line ${i + 2}`);
    lines.push('spec "inside" {');
    for (let i = 0; i < 4000; i++) lines.push(`  expect get_tce phb0 0x0 == 0`);
    lines.push("  put_tce phb0 == 1", "}");
    const result = check(lines.join("\r\n"));
    // The syntax error, and in the same pass the file's other mistake: statements outside a block beside a spec.
    expect(result.diagnostics.map((d) => `${d.line}:${d.column}: ${d.message}`)).toEqual([
      "1:1: a statement outside a spec block: put it in 'setup { … }' or in a spec",
      `${lines.length - 1}:16: expected an IOBA, found '=='`,
    ]);
  });

  it("a late semantic error is reported at its own line", () => {
    const lines = Array.from({ length: 5000 }, (_, i) => `put_tce phb0 0x${(i * 4096).toString(16)} 0x3`);
    lines.push("expect table(phb7) kvm");
    expect(check(lines.join("\n")).diagnostics.map((d) => `${d.line}:${d.column}`)).toEqual(["5001:14"]);
  });
});
