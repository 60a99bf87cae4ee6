// tcespec fmt: one canonical layout, idempotent, comments kept, and never a change of meaning.
import { describe, expect, it } from "vitest";
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

  it("the library is in the canonical layout", () => {
    for (const file of findSpecFiles(["specs"]).files) expect(format(readFileSync(file, "utf8")), file).toBe(readFileSync(file, "utf8"));
  });

  it("leaves a file with syntax errors alone", () => {
    expect(format("put_tce phb0 == 1\n")).toBeUndefined();
  });
});
