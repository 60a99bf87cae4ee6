// tcespec fmt: one canonical layout, idempotent, comments kept, and never a change of meaning.
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { readFileSync } from "node:fs";
import { format } from "../src/format/format.js";
import { findSpecFiles } from "../src/run/files.js";
import { generateSuite } from "../bench/generate.js";
import { compile } from "./helpers.js";

/** The program without positions or quoted source: what the file means. */
function meaning(text: string): unknown {
  const result = compile(text);
  expect(result.diagnostics).toEqual([]);
  return JSON.parse(
    JSON.stringify(result.program, (key, value) =>
      ["line", "column", "source"].includes(key) ? undefined : typeof value === "bigint" ? `${value}n` : value,
    ),
  );
}

const messy = `suite "x"

setup {
machine kvm caps spapr_tce,multi_tce   # why these caps
   phb phb0 index 0 dma32 2G
}


# a comment alone
spec "s" tags a,b {
  put_tce   phb0 0x1000 0x12340000 rw ; expect get_tce phb0 0x1000 == 0x12340003
 expect table( phb0 ) kvm
  expect put_tce_indirect phb0 0x0 [ 0x1, 0x2 ] at 0x10000 == H_SUCCESS when profile qemu-7.2,qemu-10.0 xfail "x # not a comment"
  create_window phb0 page 64K size 1T
  expect get_tce phb0[1] 0x800_0000_0000_0000 == 0
}
`;

describe("tcespec fmt", () => {
  it("lays a file out canonically, keeping comments, strings and the numbers as written", () => {
    expect(format(messy)).toBe(`suite "x"

setup {
  machine kvm caps spapr_tce, multi_tce  # why these caps
  phb phb0 index 0 dma32 2G
}

# a comment alone
spec "s" tags a, b {
  put_tce phb0 0x1000 0x12340000 rw
  expect get_tce phb0 0x1000 == 0x12340003
  expect table(phb0) kvm
  expect put_tce_indirect phb0 0x0 [0x1, 0x2] at 0x10000 == H_SUCCESS when profile qemu-7.2, qemu-10.0 xfail "x # not a comment"
  create_window phb0 page 64K size 1T
  expect get_tce phb0[1] 0x800_0000_0000_0000 == 0
}
`);
  });

  it("never changes what a file means, and a second pass changes nothing", () => {
    const library = findSpecFiles(["specs"]).files.map((f) => readFileSync(f, "utf8"));
    for (const text of [messy, generateSuite(2000), ...library]) {
      const once = format(text)!;
      expect(format(once)).toBe(once);
      expect(meaning(once)).toEqual(meaning(text));
    }
  });

  it("lays out inline blocks and semicolons as blocks: any file, folded at random, formats to the same text and means the same", () => {
    const library = findSpecFiles(["specs"]).files.map((f) => readFileSync(f, "utf8"));
    const texts = [generateSuite(300, 12), ...library.slice(0, 8)].map((t) => format(t)!);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: texts.length - 1 }), fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }), (which, folds) => {
        const canonical = texts[which]!;
        // Fold: a statement joins the line before it (after `{`, or with `; `), and a `}` the line it ends,
        // where no comment is in the way and the coin says so.
        const folded: string[] = [];
        canonical.split("\n").forEach((line, i) => {
          const previous = folded[folded.length - 1];
          const foldable = previous !== undefined && previous.trim() !== "" && !previous.includes("#") && line.trim() !== "" && !line.trimStart().startsWith("#");
          if (foldable && folds[i % folds.length]) {
            const glue = previous.trimEnd().endsWith("{") || line.trim().startsWith("}") ? " " : "; ";
            folded[folded.length - 1] = `${previous.trimEnd()}${glue}${line.trim()}`;
          } else folded.push(line);
        });
        const text = folded.join("\n");
        expect(format(text)).toBe(canonical);
        expect(meaning(text)).toEqual(meaning(canonical));
      }),
      { numRuns: 60, seed: 21 },
    );
    // The forms the issue met.
    expect(format('spec "y" { reset; put_tce phb0 0 1 }\nsetup{machine kvm;phb phb0 index 0}\n')).toBe(
      'spec "y" {\n  reset\n  put_tce phb0 0 1\n}\nsetup {\n  machine kvm\n  phb phb0 index 0\n}\n',
    );
  });

  it("the library is in the canonical layout", () => {
    for (const file of findSpecFiles(["specs"]).files) expect(format(readFileSync(file, "utf8")), file).toBe(readFileSync(file, "utf8"));
  });

  it("leaves a file with syntax errors alone", () => {
    expect(format("put_tce phb0 == 1\n")).toBeUndefined();
  });
});
